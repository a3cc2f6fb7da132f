using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace OrleansCompute.Bench.Jobs;

/// <summary>
/// The Api's jobs (SPEC §4.3) as batches: a big no-op <c>sleep</c> job (tasks/s and commits per
/// task, against Hangfire) and <c>primes</c> to 10^8 (speed-up over the single-threaded loop).
/// Wall time runs from the POST to the poll that sees the job succeeded.
/// </summary>
public sealed class JobsTarget(JobsApiClient api, ProgressDisplay progress)
{
    public const string TargetName = "jobs";
    public const string NoOpWorkload = "noop-tasks";

    /// <summary>The most tasks a job may run in parallel (JobSpec.MaxParallelism).</summary>
    public const int NoOpParallelism = 1024;

    public const int PrimesChunk = 1_000_000;
    public const int PrimesParallelism = 64;

    /// <summary>"primes-1e8 (2 silos)": the silo count is part of the name, since the figure means nothing without it.</summary>
    public static string PrimesWorkload(long to, int silos) => $"{PrimesLoop.WorkloadName(to)} ({silos} silo{(silos == 1 ? "" : "s")})";

    public async Task<RunResult> RunNoOpAsync(int tasks, BatchRun batch, CancellationToken cancellationToken)
    {
        var silos = await api.ActiveSilosAsync(cancellationToken);
        progress.WriteLine($"jobs: one sleep job of {tasks:N0} tasks with milliseconds 0, parallelism {NoOpParallelism}, on {silos} silos");
        return await batch.MeasureAsync(
            TargetName,
            NoOpWorkload,
            NoOpParallelism,
            usesPostgres: true,
            async () =>
            {
                var input = new JsonObject { ["tasks"] = tasks, ["milliseconds"] = 0 };
                var (job, seconds) = await RunJobAsync("sleep", input, NoOpParallelism, TimeSpan.FromSeconds(Math.Max(120, tasks / 50.0)), cancellationToken);
                return new BatchOutcome(job.Succeeded, seconds, job.Failed, Describe(job, silos));
            },
            cancellationToken);
    }

    /// <summary>
    /// Runs the primes job over 1..<paramref name="to"/> <paramref name="runs"/> times in one
    /// commit window; the figure is the median run, commits are per job. The count is checked
    /// against the single-threaded loop's when it ran.
    /// </summary>
    public async Task<RunResult> RunPrimesAsync(long to, int runs, long? expected, BatchRun batch, CancellationToken cancellationToken)
    {
        var silos = await api.ActiveSilosAsync(cancellationToken);
        progress.WriteLine($"jobs: primes 1..{to:N0}, chunkSize {PrimesChunk:N0}, parallelism {PrimesParallelism}, on {silos} silos, median of {runs}");

        // Freshly started silos run the sieve at tier-0 JIT; one small unmeasured job first, as
        // the single-threaded loop gets one small unmeasured count.
        await RunJobAsync("primes", PrimesInput(Math.Min(to, PrimesLoop.WarmupTo)), PrimesParallelism, TimeSpan.FromMinutes(2), cancellationToken);

        var result = await batch.MeasureAsync(
            TargetName,
            PrimesWorkload(to, silos),
            PrimesParallelism,
            usesPostgres: true,
            async () =>
            {
                var seconds = new List<double>();
                var notes = new List<string>();
                var failed = 0L;
                for (var i = 0; i < runs; i++)
                {
                    var (job, elapsed) = await RunJobAsync("primes", PrimesInput(to), PrimesParallelism, TimeSpan.FromMinutes(10), cancellationToken);
                    var count = job.Result?["count"]?.GetValue<long>();
                    if (job.Status != "succeeded" || (expected is { } want && count != want))
                    {
                        failed++;
                        notes.Add($"run {i + 1}: {Describe(job, silos)}; count {count?.ToString(CultureInfo.InvariantCulture) ?? "none"}, expected {expected?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
                        continue;
                    }

                    seconds.Add(elapsed);
                    if (notes.Count == 0)
                    {
                        notes.Add($"{Describe(job, silos)}; {count:N0} primes");
                    }
                }

                var median = seconds.Count == 0 ? 0 : PrimesLoop.Median(seconds);
                notes.Add(PrimesLoop.Runs(seconds));
                return new BatchOutcome(seconds.Count == 0 ? 0 : to, median, failed, "ops = numbers sieved; " + string.Join("; ", notes));
            },
            cancellationToken);

        // commits/op is per number sieved (about zero); per job is the figure a reader wants.
        return result.Commits is { } commits
            ? result with { Note = result.Note + string.Create(CultureInfo.InvariantCulture, $"; {(double)commits / runs:0.#} commits per job") }
            : result;
    }

    private static JsonObject PrimesInput(long to) => new() { ["from"] = 1, ["to"] = to, ["chunkSize"] = PrimesChunk };

    private static string Describe(JobState job, int silos) => string.Create(
        CultureInfo.InvariantCulture,
        $"{job.Status}: {job.Succeeded:N0}/{job.Total:N0} tasks succeeded, {job.Failed:N0} failed; createdAt..finishedAt {job.ServerSeconds:0.00} s; {silos} silo{(silos == 1 ? "" : "s")} on this machine's cores{(job.Error is null ? "" : "; error " + job.Error)}");

    private async Task<(JobState Job, double Seconds)> RunJobAsync(string kind, JsonObject input, int parallelism, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var id = await api.SubmitAsync(kind, input, parallelism, cancellationToken);
        var last = new JobState(id, "queued", 0, 0, 0, null, null);
        try
        {
            await using (progress.Start($"{TargetName} {kind} {id}", () => new ProgressSample("job", clock.Elapsed, timeout, last.Succeeded, last.Failed)))
            {
                last = await api.WaitAsync(id, timeout, state => last = state, cancellationToken);
            }
        }
        catch
        {
            await api.CancelAsync(id);
            throw;
        }

        return (last, clock.Elapsed.TotalSeconds);
    }
}
