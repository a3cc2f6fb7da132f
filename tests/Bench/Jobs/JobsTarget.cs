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
    public static string PrimesWorkload(int silos) => $"{PrimesLoop.WorkloadName} ({silos} silo{(silos == 1 ? "" : "s")})";

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

    public async Task<RunResult> RunPrimesAsync(BatchRun batch, CancellationToken cancellationToken)
    {
        var silos = await api.ActiveSilosAsync(cancellationToken);
        progress.WriteLine($"jobs: primes 1..{PrimesLoop.To:N0}, chunkSize {PrimesChunk:N0}, parallelism {PrimesParallelism}, on {silos} silos");

        // Freshly started silos run the sieve at tier-0 JIT; one small unmeasured job first, as
        // the single-threaded loop gets one small unmeasured count.
        await RunJobAsync("primes", PrimesInput(PrimesLoop.WarmupTo), PrimesParallelism, TimeSpan.FromMinutes(2), cancellationToken);

        return await batch.MeasureAsync(
            TargetName,
            PrimesWorkload(silos),
            PrimesParallelism,
            usesPostgres: true,
            async () =>
            {
                var (job, seconds) = await RunJobAsync("primes", PrimesInput(PrimesLoop.To), PrimesParallelism, TimeSpan.FromMinutes(10), cancellationToken);
                var count = job.Result?["count"]?.GetValue<long>();
                var wrong = job.Status == "succeeded" && count != PrimesLoop.Expected ? $"; WRONG count {count}, expected {PrimesLoop.Expected}" : "";
                return new BatchOutcome(job.Status == "succeeded" && wrong.Length == 0 ? PrimesLoop.To : 0, seconds, job.Failed, Describe(job, silos) + wrong);
            },
            cancellationToken);
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
