using System.Globalization;
using OrleansCompute.Bench.Baselines;
using OrleansCompute.Bench.Elastic;
using OrleansCompute.Bench.Jobs;
using OrleansCompute.Bench.Workloads;

namespace OrleansCompute.Bench;

/// <summary>
/// One run of the harness: every selected target, one after the other, with the same load
/// settings. A target that cannot run is recorded as skipped with the reason and the others go on.
/// </summary>
public sealed class BenchSession(Options options, ProgressDisplay progress)
{
    private readonly List<RunResult> _results = [];
    private readonly List<Skipped> _skipped = [];
    private int? _round;
    private readonly LoadRunner _runner = new(new LoadSettings(options.Concurrency, options.Warmup, options.Duration), progress);

    public IReadOnlyList<RunResult> Results => _results;

    public IReadOnlyList<Skipped> SkippedRuns => _skipped;

    /// <summary>The elastic workload's figures (issue #11), when it ran.</summary>
    public ElasticSummary? Elastic { get; private set; }

    /// <summary>"orleans on 15.18" when --pg answered.</summary>
    public string? PostgresDescription { get; private set; }

    public LoadSettings Settings => new(options.Concurrency, options.Warmup, options.Duration);

    /// <summary>
    /// The HTTP targets and baselines run once per round (--rounds), in the same order each time;
    /// the watch fan-out, the elastic workload and the jobs are batches and run once, after them.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var pg = await ConnectPostgresAsync(cancellationToken);

        for (var round = 1; round <= options.Rounds; round++)
        {
            if (options.Rounds > 1)
            {
                _round = round;
                progress.WriteLine($"round {round} of {options.Rounds}");
            }

            if (options.Workloads.Any(w => w.StartsWith("kv-", StringComparison.Ordinal)))
            {
                await RunApiTargetAsync("kv", async api => await KvApiTarget.StartAsync(api, options.ApiKey, options.Concurrency, options.Workloads, new ProgressWriter(progress), cancellationToken), pg, cancellationToken);
            }

            if (options.Workloads.Contains("txn-transfer"))
            {
                await RunApiTargetAsync("txn", async api => await TxnApiTarget.StartAsync(api, options.ApiKey, options.Concurrency, new ProgressWriter(progress), cancellationToken), pg, cancellationToken);
            }

            if (options.Workloads.Any(w => w is CoordWorkloads.LockPair or CoordWorkloads.LeaseKeepAlive))
            {
                await RunApiTargetAsync("coord", async api => await CoordApiTarget.StartAsync(api, options.ApiKey, options.Concurrency, options.Workloads, new ProgressWriter(progress), cancellationToken), pg, cancellationToken);
            }

            if (options.Baselines.Contains("kestrel"))
            {
                await RunHttpTargetAsync("kestrel", async () => await KestrelBaseline.StartAsync(options.Concurrency, cancellationToken), pg, cancellationToken);
            }

            if (options.Baselines.Contains("etcd"))
            {
                await RunHttpTargetAsync(
                    "etcd",
                    async () => await EtcdBaseline.StartAsync(options.Concurrency, new ProgressWriter(progress), cancellationToken),
                    pg,
                    cancellationToken,
                    EtcdRuns);
            }

            if (options.Baselines.Contains("pgbench"))
            {
                await RunPgBenchAsync(pg, tpcb: false, cancellationToken);
            }

            if (options.Baselines.Contains("pgbench-tpcb"))
            {
                await RunPgBenchAsync(pg, tpcb: true, cancellationToken);
            }
        }

        _round = null;
        if (options.Workloads.Contains(Watch.WatchFanoutBench.Workload))
        {
            await RunBatchAsync(Watch.WatchFanoutBench.Target, Watch.WatchFanoutBench.Workload,
                () => new Watch.WatchFanoutBench(options, pg, progress).RunAsync(cancellationToken));
        }

        if (options.Workloads.Contains("elastic"))
        {
            await RunElasticAsync(pg, cancellationToken);
        }

        await RunJobsAsync(pg, cancellationToken);
    }

    /// <summary>
    /// The job workloads and their baselines, last, each a batch run to completion: the primes
    /// loop and job (speed-up), then the no-op job and Hangfire (tasks/s, commits per task).
    /// </summary>
    private async Task RunJobsAsync(PgStats? pg, CancellationToken cancellationToken)
    {
        var batch = new BatchRun(pg, progress);
        long? primesCount = null;
        if (options.Baselines.Contains(PrimesLoop.TargetName))
        {
            var (loop, count) = await Task.Run(() => PrimesLoop.Run(options.PrimesTo, options.PrimesRuns, progress, cancellationToken), cancellationToken);
            Add(loop);
            primesCount = count;
        }

        if (options.Jobs.Count > 0)
        {
            if (options.Api is null)
            {
                Skip(JobsTarget.TargetName, null, "jobs: no --api given");
            }
            else
            {
                using var client = BenchHttp.CreateClient(options.Api, 4, options.ApiKey);
                var jobs = new JobsTarget(new JobsApiClient(client), progress);
                if (options.Jobs.Contains("primes"))
                {
                    await RunBatchAsync(
                        JobsTarget.TargetName,
                        PrimesLoop.WorkloadName(options.PrimesTo),
                        () => jobs.RunPrimesAsync(options.PrimesTo, options.PrimesRuns, primesCount, batch, cancellationToken));
                }

                if (options.Jobs.Contains("noop"))
                {
                    await RunBatchAsync(JobsTarget.TargetName, JobsTarget.NoOpWorkload, () => jobs.RunNoOpAsync(options.NoOpTasks, batch, cancellationToken));
                }
            }
        }

        if (options.Baselines.Contains(HangfireBaseline.TargetName))
        {
            if (pg is null)
            {
                Skip(HangfireBaseline.TargetName, null, options.Postgres is null ? "hangfire: no --pg given" : "hangfire: PostgreSQL not reachable with --pg");
            }
            else
            {
                var hangfire = new HangfireBaseline(pg, progress);
                await RunBatchAsync(HangfireBaseline.TargetName, HangfireBaseline.WorkloadName, () => hangfire.RunAsync(options.HangfireJobs, batch, cancellationToken));
            }
        }
    }

    /// <summary>The elastic workload: silos join, leave and die under half-peak load (issue #11).</summary>
    private async Task RunElasticAsync(PgStats? pg, CancellationToken cancellationToken)
    {
        if (options.Api is null)
        {
            Skip("kv", "elastic", "elastic: no --api given");
            return;
        }

        var elastic = new ElasticBench(options, _runner, pg, progress, Add);
        try
        {
            await elastic.RunAsync(cancellationToken);
        }
        catch (BenchSkipException e)
        {
            Skip("kv", "elastic", e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Skip("kv", "elastic", $"kv elastic: failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            // Whatever was measured before a failure or Ctrl-C is reported.
            if (elastic.Summary.Windows.Count > 0 || elastic.Summary.PeakBefore is not null)
            {
                Elastic = elastic.Summary;
            }
        }
    }

    private async Task RunBatchAsync(string target, string workload, Func<Task<RunResult>> run)
    {
        try
        {
            Add(await run());
        }
        catch (BenchSkipException e)
        {
            Skip(target, workload, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Skip(target, workload, $"{target} {workload}: failed: {e.GetType().Name}: {e.Message}");
        }
    }

    private async Task<PgStats?> ConnectPostgresAsync(CancellationToken cancellationToken)
    {
        if (options.Postgres is null)
        {
            progress.WriteLine("PostgreSQL: no --pg given: commits/op not measured, pgbench skipped");
            return null;
        }

        var stats = new PgStats(options.Postgres);
        try
        {
            PostgresDescription = await stats.DescribeAsync(cancellationToken);
            progress.WriteLine($"PostgreSQL: {PostgresDescription}");
            return stats;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or ArgumentException or InvalidOperationException)
        {
            progress.WriteLine($"PostgreSQL: cannot connect with --pg ({e.Message}): commits/op not measured, pgbench skipped");
            return null;
        }
    }

    /// <summary>
    /// Whether etcd runs <paramref name="workload"/>: only the counterparts of the selected workloads,
    /// or all of them when none of those is selected. Each is a prime and a run more, every round.
    /// </summary>
    private bool EtcdRuns(string workload)
    {
        var selected = EtcdCounterparts.Where(pair => options.Workloads.Contains(pair.Value)).Select(pair => pair.Key).ToList();
        return selected.Count == 0 || selected.Contains(workload);
    }

    private static readonly Dictionary<string, string> EtcdCounterparts = new(StringComparer.Ordinal)
    {
        ["range-hot"] = "kv-get-hot",
        ["put-random"] = "kv-put-random",
        [CoordWorkloads.LockPair] = CoordWorkloads.LockPair,
        [CoordWorkloads.LeaseKeepAlive] = CoordWorkloads.LeaseKeepAlive,
    };

    /// <summary>A target behind the Api: skipped, with the reason, when no --api was given.</summary>
    private Task RunApiTargetAsync(string name, Func<Uri, Task<IHttpTarget>> start, PgStats? pg, CancellationToken cancellationToken) =>
        RunHttpTargetAsync(name, async () => options.Api is { } api ? await start(api) : throw new BenchSkipException($"{name}: no --api given"), pg, cancellationToken);

    private async Task RunHttpTargetAsync(string name, Func<Task<IHttpTarget>> start, PgStats? pg, CancellationToken cancellationToken, Func<string, bool>? runs = null)
    {
        IHttpTarget target;
        try
        {
            target = await start();
        }
        catch (BenchSkipException e)
        {
            Skip(name, null, e.Message);
            return;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Skip(name, null, $"{name}: could not start: {e.GetType().Name}: {e.Message}");
            return;
        }

        await using (target)
        {
            var cpu = new ProcessCpu(options.CpuProcesses.Concat(target.Processes).DistinctBy(p => p.Key).ToDictionary());
            foreach (var workload in target.Workloads.Where(w => runs?.Invoke(w.Name) ?? true))
            {
                try
                {
                    await workload.SetupAsync(target.Client, cancellationToken);
                    if (options.Prime > TimeSpan.Zero)
                    {
                        await _runner.PrimeAsync(target, workload, options.Prime, cancellationToken);
                    }

                    await MeasureAsync(
                        (mode, rate) => _runner.RunAsync(target, workload, mode, rate, target.UsesPostgres ? pg : null, cpu, cancellationToken));
                }
                catch (BenchSkipException e)
                {
                    Skip(name, workload.Name, e.Message);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Skip(name, workload.Name, $"{name} {workload.Name}: failed: {e.GetType().Name}: {e.Message}");
                }
                finally
                {
                    await workload.TeardownAsync(target.Client, CancellationToken.None);
                }
            }
        }
    }

    private async Task RunPgBenchAsync(PgStats? pg, bool tpcb, CancellationToken cancellationToken)
    {
        if (pg is null)
        {
            Skip(PgBenchBaseline.TargetName, null, options.Postgres is null ? "pgbench: no --pg given" : "pgbench: PostgreSQL not reachable with --pg");
            return;
        }

        PgBenchBaseline pgbench;
        try
        {
            pgbench = tpcb
                ? await PgBenchBaseline.StartTpcbAsync(pg, progress, cancellationToken)
                : await PgBenchBaseline.StartAsync(pg, progress, cancellationToken);
            progress.WriteLine(tpcb
                ? $"pgbench: {pgbench.Binary}, tpcb-like at scale {PgBenchBaseline.TpcbScale}, at most {PgBenchBaseline.TpcbMaxClients} clients"
                : $"pgbench: {pgbench.Binary}, table bench_kv");
        }
        catch (BenchSkipException e)
        {
            Skip(PgBenchBaseline.TargetName, null, e.Message);
            return;
        }

        try
        {
            await MeasureAsync((mode, rate) => pgbench.RunAsync(Settings, mode, rate, cancellationToken));
        }
        catch (BenchSkipException e)
        {
            Skip(PgBenchBaseline.TargetName, pgbench.Workload, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Skip(PgBenchBaseline.TargetName, pgbench.Workload, $"pgbench: failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            try
            {
                await pgbench.StopAsync(CancellationToken.None);
            }
            catch (Npgsql.NpgsqlException e)
            {
                progress.WriteLine($"pgbench: could not drop its tables: {e.Message}");
            }
        }
    }

    /// <summary>Peak (closed loop), or the fixed --rate; with --half-peak also a run at 50% of the peak.</summary>
    private async Task MeasureAsync(Func<string, double?, Task<RunResult>> run)
    {
        if (options.Rate is { } rate)
        {
            Add(await run(RunModes.Rate, rate));
            return;
        }

        var peak = await run(RunModes.Closed, null);
        Add(peak);
        if (options.HalfPeak)
        {
            if (peak.OpsPerSecond <= 0)
            {
                Skip(peak.Target, peak.Workload, $"{peak.Target} {peak.Workload}: no half-peak run: the peak run completed nothing");
                return;
            }

            Add(await run(RunModes.HalfPeak, Math.Round(peak.OpsPerSecond / 2)));
        }
    }

    private void Add(RunResult result)
    {
        result = result with { Round = _round };
        _results.Add(result);
        var latency = result.Latency?.P99Ms is { } p99 ? string.Create(CultureInfo.InvariantCulture, $", p99 {p99:0.00} ms") : "";
        var commits = result.CommitsPerOp is { } c ? string.Create(CultureInfo.InvariantCulture, $", {c:0.000} commits/op") : "";
        var seconds = result.Mode == RunModes.Batch ? string.Create(CultureInfo.InvariantCulture, $" ({result.Ops:N0} in {result.Seconds:0.00} s)") : "";
        progress.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  {result.Target} {result.Workload} [{Report.ModeText(result)}]: {result.OpsPerSecond:N0} ops/s{seconds}{latency}, {result.Errors:N0} errors{commits}"));
    }

    private void Skip(string target, string? workload, string reason)
    {
        _skipped.Add(new Skipped(target, workload, reason));
        progress.WriteLine($"SKIPPED {reason}");
    }

    /// <summary>Lets targets log through the progress display without tearing its line.</summary>
    private sealed class ProgressWriter(ProgressDisplay display) : StringWriter(CultureInfo.InvariantCulture)
    {
        public override void WriteLine(string? value) => display.WriteLine(value ?? "");
    }
}
