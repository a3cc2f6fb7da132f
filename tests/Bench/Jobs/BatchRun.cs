using System.Globalization;

namespace OrleansCompute.Bench.Jobs;

/// <summary>What one batch (a job, a set of Hangfire jobs, a loop) did: its own clock, its own count.</summary>
/// <param name="Ops">Units done: tasks, jobs, or numbers sieved.</param>
/// <param name="Seconds">Wall time of the batch as the workload defines it (submit to done).</param>
public sealed record BatchOutcome(long Ops, double Seconds, long Errors, string? Note = null);

/// <summary>
/// Measures a batch of work that runs to completion (a job, not a stream of requests) with the
/// PostgreSQL commits it cost, for SPEC §6's commits per task.
/// </summary>
/// <remarks>
/// The load generator's trick of reading pg_stat_database at both edges under load does not
/// apply: a batch starts from idle and ends idle. An idle backend publishes its counts within
/// 10 s (PGSTAT_IDLE_INTERVAL), so the counter is read after 11 s of quiet before the batch
/// (earlier work has landed) and 11 s after it (all of the batch has landed). Background work of
/// the cluster in those 22 s (membership heartbeats, reminders) is included, as in every other
/// commits/op figure: a few dozen commits, against thousands for the batch.
/// </remarks>
public sealed class BatchRun(PgStats? pg, ProgressDisplay progress)
{
    private static readonly TimeSpan IdleFlush = TimeSpan.FromSeconds(11);

    public async Task<RunResult> MeasureAsync(
        string target, string workload, int concurrency, bool usesPostgres, Func<Task<BatchOutcome>> run, CancellationToken cancellationToken)
    {
        var counter = usesPostgres ? pg : null;
        var before = await ReadQuietAsync(counter, $"{target} {workload}: waiting {IdleFlush.TotalSeconds:0} s for PostgreSQL's idle statistics flush", cancellationToken);
        var outcome = await run();
        var after = await ReadQuietAsync(counter, $"{target} {workload}: done in {outcome.Seconds:0.00} s; waiting {IdleFlush.TotalSeconds:0} s for the commit counter", cancellationToken);
        return new RunResult
        {
            Target = target,
            Workload = workload,
            Mode = RunModes.Batch,
            Concurrency = concurrency,
            Seconds = outcome.Seconds,
            Ops = outcome.Ops,
            OpsPerSecond = outcome.Seconds > 0 ? outcome.Ops / outcome.Seconds : 0,
            Errors = outcome.Errors,
            Commits = after?.Commits - before?.Commits,
            WriteTransactions = after?.NextXid - before?.NextXid,
            Note = outcome.Note,
        };
    }

    private async Task<PgSnapshot?> ReadQuietAsync(PgStats? counter, string message, CancellationToken cancellationToken)
    {
        if (counter is null)
        {
            return null;
        }

        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {message}"));
        await Task.Delay(IdleFlush, cancellationToken);
        return await counter.ReadAsync(cancellationToken);
    }
}
