using System.Diagnostics;
using OrleansCompute.Grains.Jobs.Kinds;

namespace OrleansCompute.Bench.Jobs;

/// <summary>
/// The single-threaded baseline for the primes job: <see cref="PrimesKind.Count"/> (the very code
/// every task of the job runs) over 1..10^8 in one loop, in this process.
/// </summary>
public static class PrimesLoop
{
    public const string TargetName = "primes-loop";
    public const string WorkloadName = "primes-1e8";
    public const long To = 100_000_000;

    /// <summary>The number of primes up to 10^8 (π(10^8)): both sides are checked against it.</summary>
    public const long Expected = 5_761_455;

    /// <summary>A tenth of the range, counted once unmeasured so the loop runs fully optimised code.</summary>
    public const long WarmupTo = 10_000_000;

    public static RunResult Run(ProgressDisplay progress, CancellationToken cancellationToken)
    {
        progress.WriteLine($"primes-loop: PrimesKind.Count(1, {To:N0}) on one thread");
        PrimesKind.Count(1, WarmupTo, cancellationToken);
        var clock = Stopwatch.StartNew();
        var count = PrimesKind.Count(1, To, cancellationToken);
        var seconds = clock.Elapsed.TotalSeconds;
        return new RunResult
        {
            Target = TargetName,
            Workload = WorkloadName,
            Mode = RunModes.Batch,
            Concurrency = 1,
            Seconds = seconds,
            Ops = count == Expected ? To : 0,
            OpsPerSecond = count == Expected ? To / seconds : 0,
            Errors = 0,
            Note = count == Expected ? "ops = numbers sieved; one thread, no PostgreSQL" : $"WRONG count {count}, expected {Expected}",
        };
    }
}
