using System.Diagnostics;
using System.Globalization;
using OrleansCompute.Grains.Jobs.Kinds;

namespace OrleansCompute.Bench.Jobs;

/// <summary>
/// The single-threaded baseline for the primes job: <see cref="PrimesKind.Count"/> (the very code
/// every task of the job runs) over 1..to in one loop, in this process.
/// </summary>
public static class PrimesLoop
{
    public const string TargetName = "primes-loop";

    /// <summary>Counted once unmeasured (or the whole range, when smaller) so the loop runs fully optimised code.</summary>
    public const long WarmupTo = 10_000_000;

    /// <summary>"primes-1e8" for a power of ten, else "primes-123456789".</summary>
    public static string WorkloadName(long to)
    {
        var exponent = (int)Math.Round(Math.Log10(to));
        return Math.Abs(to - Math.Pow(10, exponent)) < 0.5
            ? $"primes-1e{exponent}"
            : string.Create(CultureInfo.InvariantCulture, $"primes-{to}");
    }

    /// <summary>Counts 1..<paramref name="to"/> <paramref name="runs"/> times; the figure is the median run.</summary>
    public static (RunResult Result, long Count) Run(long to, int runs, ProgressDisplay progress, CancellationToken cancellationToken)
    {
        progress.WriteLine($"primes-loop: PrimesKind.Count(1, {to:N0}) on one thread, median of {runs}");
        PrimesKind.Count(1, Math.Min(to, WarmupTo), cancellationToken);
        var seconds = new List<double>();
        long count = 0;
        for (var i = 0; i < runs; i++)
        {
            var clock = Stopwatch.StartNew();
            count = PrimesKind.Count(1, to, cancellationToken);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }

        var median = Median(seconds);
        var result = new RunResult
        {
            Target = TargetName,
            Workload = WorkloadName(to),
            Mode = RunModes.Batch,
            Concurrency = 1,
            Seconds = median,
            Ops = to,
            OpsPerSecond = to / median,
            Errors = 0,
            Note = $"ops = numbers sieved; {count:N0} primes; one thread, no PostgreSQL; {Runs(seconds)}",
        };
        return (result, count);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>"median of 3 runs: 0.21 / 0.22 / 0.25 s", so the spread is on record next to the figure.</summary>
    public static string Runs(IEnumerable<double> seconds) =>
        $"median of runs {string.Join(" / ", seconds.Select(s => s.ToString("0.000", CultureInfo.InvariantCulture)))} s";
}
