using System.Diagnostics;
using System.Globalization;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Npgsql;
using OrleansCompute.Bench.Jobs;

namespace OrleansCompute.Bench.Baselines;

/// <summary>
/// Hangfire on PostgreSQL (SPEC §6 anchor, ~30 commits per job): N no-op jobs enqueued into a
/// Hangfire storage in its own schema of the cluster's database, then a BackgroundJobServer in
/// this process runs them. jobs/s is N over the time from server start until the monitoring API
/// counts N succeeded; commits/job covers enqueueing and running, as a job's does on our side.
/// </summary>
public sealed class HangfireBaseline(PgStats pg, ProgressDisplay progress)
{
    public const string TargetName = "hangfire";
    public const string WorkloadName = "noop-jobs";

    // Its own schema, created and dropped by the run, so nothing of Hangfire's outlives it.
    private const string Schema = "bench_hangfire";

    // Hangfire's default worker count (before its cap of 20), for this machine.
    private static readonly int Workers = Environment.ProcessorCount * 5;

    // Polling the monitoring API costs a commit per poll; 4 a second is noise against hundreds of jobs.
    private static readonly TimeSpan MonitorInterval = TimeSpan.FromMilliseconds(250);

    public async Task<RunResult> RunAsync(int jobs, BatchRun batch, CancellationToken cancellationToken)
    {
        await DropSchemaAsync(CancellationToken.None);
        try
        {
            var options = new PostgreSqlStorageOptions
            {
                SchemaName = Schema,
                PrepareSchemaIfNecessary = true,
                // Hangfire.PostgreSql polls its queue table; a short interval keeps idle workers
                // from sleeping through jobs (the default, 15 s, would make it artificially slow).
                QueuePollInterval = TimeSpan.FromMilliseconds(50),
            };
            var storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(pg.ConnectionString, options), options);
            // Installing the schema is setup, not part of the measured window.
            using (storage.GetConnection())
            {
            }

            progress.WriteLine($"hangfire: schema {Schema}, {jobs:N0} no-op jobs, {Workers} workers, queue poll {options.QueuePollInterval.TotalMilliseconds:0} ms");
            return await batch.MeasureAsync(TargetName, WorkloadName, Workers, usesPostgres: true, () => Task.Run(() => Run(storage, jobs, cancellationToken), cancellationToken), cancellationToken);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await DropSchemaAsync(CancellationToken.None);
        }
    }

    /// <summary>Hangfire's API is synchronous: enqueue, start the server, wait, stop it.</summary>
    private BatchOutcome Run(PostgreSqlStorage storage, int jobs, CancellationToken cancellationToken)
    {
        var client = new BackgroundJobClient(storage);
        var enqueueClock = Stopwatch.StartNew();
        for (var i = 0; i < jobs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            client.Enqueue(() => NoOpJob.Run());
        }

        var enqueueSeconds = enqueueClock.Elapsed.TotalSeconds;
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  hangfire: enqueued {jobs:N0} jobs in {enqueueSeconds:0.00} s ({jobs / enqueueSeconds:N0}/s); starting the server"));

        var monitoring = storage.GetMonitoringApi();
        var clock = Stopwatch.StartNew();
        long succeeded;
        long failed;
        using (var server = new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = Workers, ServerName = "bench" }, storage))
        {
            var deadline = TimeSpan.FromSeconds(Math.Max(120, jobs / 10.0));
            while (true)
            {
                succeeded = monitoring.SucceededListCount();
                failed = monitoring.FailedCount();
                if (succeeded + failed >= jobs || clock.Elapsed > deadline)
                {
                    break;
                }

                cancellationToken.WaitHandle.WaitOne(MonitorInterval);
                cancellationToken.ThrowIfCancellationRequested();
            }

            clock.Stop();
            server.SendStop();
        }

        var note = string.Create(
            CultureInfo.InvariantCulture,
            $"{jobs:N0} jobs enqueued first at {jobs / enqueueSeconds:N0}/s (not in the time, in the commits); {Workers} workers")
            + (succeeded + failed < jobs ? $"; TIMED OUT with {succeeded:N0} succeeded" : "");
        return new BatchOutcome(succeeded, clock.Elapsed.TotalSeconds, failed, note);
    }

    private async Task DropSchemaAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(pg.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {Schema} CASCADE", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>The job Hangfire runs: nothing, so the figure is Hangfire's own cost per job.</summary>
public static class NoOpJob
{
    public static void Run()
    {
    }
}
