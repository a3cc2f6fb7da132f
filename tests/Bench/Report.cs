using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using OrleansCompute.Bench.Baselines;
using OrleansCompute.Bench.Elastic;
using OrleansCompute.Bench.Jobs;
using OrleansCompute.Bench.Workloads;

namespace OrleansCompute.Bench;

/// <summary>A SPEC §6 target checked against this run's figures.</summary>
/// <param name="Status"><c>MET</c>, <c>MISSED</c> or <c>n/a</c> (with <paramref name="Detail"/> saying why).</param>
public sealed record TargetCheck(string Name, string Comparison, double Target, string Unit, double? Value, string Status, string? Detail);

/// <summary>A speed-up with no SPEC target (primes job over the single-threaded loop): reported, not judged.</summary>
public sealed record SpeedUp(string Name, double? Value, string? Detail);

/// <summary>The results table, the SPEC §6 targets side by side, and the JSON file.</summary>
public sealed class Report(Options options, BenchSession session, DateTimeOffset startedAt, DateTimeOffset finishedAt)
{
    // Throughput ratios: numerator / denominator, both from the closed-loop (peak) runs of this
    // session, or from the batch runs for jobs.
    private static readonly (string Name, string NumTarget, string NumWorkload, string DenTarget, string DenWorkload, double Min, string Mode)[] RatioTargets =
    [
        ("KV GET hot / Kestrel GET hot", "kv", "kv-get-hot", "kestrel", "get-hot", 0.5, RunModes.Closed),
        ("KV GET hot / etcd range", "kv", "kv-get-hot", "etcd", "range-hot", 4.0, RunModes.Closed),
        ("KV PUT / pgbench upsert", "kv", "kv-put-random", PgBenchBaseline.TargetName, PgBenchBaseline.WorkloadName, 1.0, RunModes.Closed),
        ("KV PUT / etcd put", "kv", "kv-put-random", "etcd", "put-random", 1.5, RunModes.Closed),
        ("Lock acquire+release / etcd lock+unlock", "coord", CoordWorkloads.LockPair, "etcd", CoordWorkloads.LockPair, 1.5, RunModes.Closed),
        ("Lease keepalives / etcd keepalives", "coord", CoordWorkloads.LeaseKeepAlive, "etcd", CoordWorkloads.LeaseKeepAlive, 1.5, RunModes.Closed),
        ("Transfer / pgbench tpcb-like", "txn", "txn-transfer", PgBenchBaseline.TargetName, PgBenchBaseline.TpcbWorkloadName, 0.5, RunModes.Closed),
        ("No-op tasks/s / Hangfire jobs/s", JobsTarget.TargetName, JobsTarget.NoOpWorkload, HangfireBaseline.TargetName, HangfireBaseline.WorkloadName, 10.0, RunModes.Batch),
    ];

    // Absolute throughput floors (ops/s of a batch run).
    private static readonly (string Name, string Target, string Workload, double Min)[] RateTargets =
    [
        ("No-op job tasks/s", JobsTarget.TargetName, JobsTarget.NoOpWorkload, 1000),
    ];

    // Ceilings on PostgreSQL commits per operation (closed-loop runs for HTTP workloads, batch runs for jobs).
    private static readonly (string Name, string Target, string Workload, double Max, string Mode)[] CommitTargets =
    [
        ("Transfer commits per transfer", "txn", "txn-transfer", 3.0, RunModes.Closed),
        ("No-op job commits/task", JobsTarget.TargetName, JobsTarget.NoOpWorkload, 2.5, RunModes.Batch),
    ];

    // p99 latency at half of peak throughput (the --half-peak runs).
    private static readonly (string Name, string Target, string Workload, double MaxMs)[] LatencyTargets =
    [
        ("KV GET hot p99 at 50% of peak", "kv", "kv-get-hot", 5.0),
        ("KV GET random p99 at 50% of peak", "kv", "kv-get-random", 5.0),
        ("KV PUT p99 at 50% of peak", "kv", "kv-put-random", 20.0),
    ];

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static string ModeText(RunResult result)
    {
        var mode = result.Mode switch
        {
            RunModes.Closed => "closed",
            _ when result.TargetRate is { } rate => string.Create(CultureInfo.InvariantCulture, $"{result.Mode} {rate:N0}/s"),
            _ => result.Mode,
        };
        return result.Round is { } round ? $"{mode}, round {round}" : mode;
    }

    public static string Header(Options options)
    {
        var mode = options.Rate is { } rate
            ? string.Create(CultureInfo.InvariantCulture, $"open loop at {rate:N0} req/s")
            : options.HalfPeak ? "closed loop, then open loop at 50% of peak" : "closed loop";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"OrleansCompute bench: {Environment.ProcessorCount} cores{LoadAverage()}, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}\n"
            + $"concurrency {options.Concurrency}, prime {options.Prime.TotalSeconds:0.#} s, warmup {options.Warmup.TotalSeconds:0.#} s, duration {options.Duration.TotalSeconds:0.#} s, {mode}");
    }

    /// <summary>
    /// ", load 6.97" from /proc/loadavg (1-minute average), read when the header is printed: on a
    /// shared 2-core machine it says how much of a figure is the machine rather than the target.
    /// </summary>
    private static string LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return $", load {first}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    public IReadOnlyList<TargetCheck> Checks()
    {
        var checks = new List<TargetCheck>();
        foreach (var ratio in RatioTargets)
        {
            var num = Find(ratio.NumTarget, ratio.NumWorkload, ratio.Mode);
            var den = Find(ratio.DenTarget, ratio.DenWorkload, ratio.Mode);
            string? missing = num is null ? WhyMissing(ratio.NumTarget, ratio.NumWorkload, ratio.Mode)
                : den is null ? WhyMissing(ratio.DenTarget, ratio.DenWorkload, ratio.Mode)
                : null;
            if (missing is not null || num is null || den is null || den.OpsPerSecond <= 0)
            {
                checks.Add(new TargetCheck(ratio.Name, ">=", ratio.Min, "x", null, "n/a", missing ?? "no throughput to compare with"));
                continue;
            }

            var rounds = RoundRatios(ratio.NumTarget, ratio.NumWorkload, ratio.DenTarget, ratio.DenWorkload, ratio.Mode);
            if (rounds.Count == 0)
            {
                checks.Add(new TargetCheck(ratio.Name, ">=", ratio.Min, "x", null, "n/a", "never measured in the same round"));
                continue;
            }

            var value = Median(rounds);
            var perRound = rounds.Count < 2 ? null
                : $"median of {rounds.Count} rounds: {string.Join(", ", rounds.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)))}";
            var detail = string.Join("; ", new[] { perRound, ErrorsNote(num, den) }.OfType<string>());
            checks.Add(new TargetCheck(ratio.Name, ">=", ratio.Min, "x", value, value >= ratio.Min ? "MET" : "MISSED", detail.Length == 0 ? null : detail));
        }

        foreach (var rate in RateTargets)
        {
            var run = Find(rate.Target, rate.Workload, RunModes.Batch);
            checks.Add(run is null
                ? new TargetCheck(rate.Name, ">=", rate.Min, "/s", null, "n/a", WhyMissing(rate.Target, rate.Workload, RunModes.Batch))
                : new TargetCheck(rate.Name, ">=", rate.Min, "/s", run.OpsPerSecond, run.OpsPerSecond >= rate.Min ? "MET" : "MISSED", ErrorsNote(run)));
        }

        foreach (var commits in CommitTargets)
        {
            var run = Find(commits.Target, commits.Workload, commits.Mode);
            checks.Add(run?.CommitsPerOp is not { } perOp
                ? new TargetCheck(commits.Name, "<=", commits.Max, "commits", null, "n/a", run is null ? WhyMissing(commits.Target, commits.Workload, commits.Mode) : "commits not measured (no --pg)")
                : new TargetCheck(commits.Name, "<=", commits.Max, "commits", perOp, perOp <= commits.Max ? "MET" : "MISSED", ErrorsNote(run)));
        }

        foreach (var latency in LatencyTargets)
        {
            var run = Find(latency.Target, latency.Workload, RunModes.HalfPeak);
            if (run?.Latency?.P99Ms is not { } p99)
            {
                var why = options.HalfPeak ? WhyMissing(latency.Target, latency.Workload, RunModes.HalfPeak) : "run with --half-peak";
                checks.Add(new TargetCheck(latency.Name, "<", latency.MaxMs, "ms", null, "n/a", why));
                continue;
            }

            checks.Add(new TargetCheck(latency.Name, "<", latency.MaxMs, "ms", p99, p99 < latency.MaxMs ? "MET" : "MISSED", ErrorsNote(run)));
        }

        return checks;
    }

    /// <summary>Each primes job (labelled with its silo count) over the single-threaded loop of this run.</summary>
    public IReadOnlyList<SpeedUp> SpeedUps()
    {
        var name = PrimesLoop.WorkloadName(options.PrimesTo);
        var loop = Find(PrimesLoop.TargetName, name, RunModes.Batch);
        var jobs = session.Results.Where(r => r.Target == JobsTarget.TargetName && r.Workload.StartsWith(name + " ", StringComparison.Ordinal)).ToList();
        return jobs.Select(job => new SpeedUp(
            $"{name} job, {job.Workload[name.Length..].Trim(' ', '(', ')')} / single-threaded loop",
            loop is null || job.Ops == 0 ? null : loop.Seconds / job.Seconds,
            loop is null
                ? WhyMissing(PrimesLoop.TargetName, name, RunModes.Batch)
                : string.Create(CultureInfo.InvariantCulture, $"median {loop.Seconds:0.000} s / {job.Seconds:0.000} s; {Environment.ProcessorCount} cores shared by every silo, the Api, PostgreSQL and the harness"))).ToList();
    }

    public void Print(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine(Header(options));
        output.WriteLine();
        if (session.Results.Count == 0)
        {
            output.WriteLine("No results.");
        }
        else
        {
            PrintTable(output);
        }

        PrintCpu(output);

        var notes = session.Results.Where(r => r.Note is not null || r.ErrorKinds.Count > 0).ToList();
        if (notes.Count > 0)
        {
            output.WriteLine();
            foreach (var result in notes)
            {
                var errors = result.ErrorKinds.Count > 0
                    ? "errors: " + string.Join(", ", result.ErrorKinds.OrderByDescending(e => e.Value).Select(e => $"{e.Key} x{e.Value:N0}"))
                    : null;
                output.WriteLine($"  {result.Target} {result.Workload} [{ModeText(result)}]: {string.Join("; ", new[] { errors, result.Note }.OfType<string>())}");
            }
        }

        if (session.SkippedRuns.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("Skipped:");
            foreach (var skipped in session.SkippedRuns)
            {
                output.WriteLine($"  {skipped.Reason}");
            }
        }

        if (session.Elastic is { } elastic)
        {
            PrintElastic(output, elastic);
        }

        output.WriteLine();
        output.WriteLine("SPEC §6 targets (this run, same load generator and concurrency for every HTTP target):");
        var checks = Checks();
        var nameWidth = checks.Max(c => c.Name.Length);
        foreach (var check in checks)
        {
            var value = check.Value is not { } v ? "-"
                : check.Unit switch
                {
                    "x" => v.ToString("0.00", CultureInfo.InvariantCulture),
                    "/s" => v.ToString("N0", CultureInfo.InvariantCulture) + " /s",
                    "commits" => v.ToString("0.000", CultureInfo.InvariantCulture),
                    _ => v.ToString("0.00", CultureInfo.InvariantCulture) + " ms",
                };
            var target = check.Unit switch
            {
                "x" => string.Create(CultureInfo.InvariantCulture, $"target {check.Comparison} {check.Target:0.0#}"),
                "/s" => string.Create(CultureInfo.InvariantCulture, $"target {check.Comparison} {check.Target:N0} /s"),
                "commits" => string.Create(CultureInfo.InvariantCulture, $"target {check.Comparison} {check.Target:0.0#}"),
                _ => string.Create(CultureInfo.InvariantCulture, $"target {check.Comparison} {check.Target:0.#} ms"),
            };
            var detail = check.Detail is null ? "" : check.Value is null ? $": {check.Detail}" : $"  ({check.Detail})";
            output.WriteLine($"  {check.Name.PadRight(nameWidth)} = {value,9}  ({target})  {check.Status}{detail}");
        }

        var speedUps = SpeedUps();
        if (speedUps.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("Speed-ups (no SPEC target):");
            var width = speedUps.Max(s => s.Name.Length);
            foreach (var speedUp in speedUps)
            {
                var value = speedUp.Value is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-";
                output.WriteLine($"  {speedUp.Name.PadRight(width)} = {value,9}  ({speedUp.Detail})");
            }
        }

        output.WriteLine();
        output.WriteLine("ops/s: successful answers per second in the measured window (errors excluded); latency of successful requests.");
        output.WriteLine("commits/op: pg_stat_database.xact_commit delta / ops; wtx/op: transaction ids assigned / ops (transactions that wrote).");
        if (session.Results.Any(r => r.Mode == RunModes.Batch))
        {
            output.WriteLine("batch: a fixed amount of work run to completion (ops: tasks, jobs, numbers sieved); commits read after 11 s of quiet on both sides.");
        }

        if (session.Results.Any(r => r.Target == PgBenchBaseline.TargetName))
        {
            output.WriteLine("pgbench runs its own clients (one connection each): raw PostgreSQL, no HTTP; see tests/Bench/README.md.");
        }
    }

    public async Task WriteJsonAsync(string path, CancellationToken cancellationToken)
    {
        var document = new
        {
            Tool = "OrleansCompute.Bench",
            StartedAt = startedAt,
            FinishedAt = finishedAt,
            Machine = new
            {
                Processors = Environment.ProcessorCount,
                Os = RuntimeInformation.OSDescription,
                Runtime = RuntimeInformation.FrameworkDescription,
            },
            Settings = new
            {
                Api = options.Api?.ToString(),
                Postgres = session.PostgresDescription,
                options.Concurrency,
                PrimeSeconds = options.Prime.TotalSeconds,
                WarmupSeconds = options.Warmup.TotalSeconds,
                DurationSeconds = options.Duration.TotalSeconds,
                options.Rate,
                options.HalfPeak,
                options.Workloads,
                options.Baselines,
                options.Jobs,
                options.NoOpTasks,
                options.HangfireJobs,
                options.PrimesTo,
                options.PrimesRuns,
            },
            session.Results,
            session.Elastic,
            Skipped = session.SkippedRuns,
            Targets = Checks(),
            SpeedUps = SpeedUps(),
        };
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, document, JsonOptions, cancellationToken);
    }

    /// <summary>The elastic workload (issue #11): one row per window, the timeline of each event, throughput around the join.</summary>
    private void PrintElastic(TextWriter output, ElasticSummary elastic)
    {
        output.WriteLine();
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Elastic (issue #11): table {elastic.Table}, {elastic.Keys} keys ({elastic.Keys / ElasticTarget.Shards} per shard of {ElasticTarget.Shards}), PUT and GET in turn at {elastic.Rate:N0} req/s ({elastic.RateSource}),"));
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  each key asked every {elastic.KeyIntervalMs:0} ms by its own loop, {elastic.RequestTimeoutSeconds:0.#} s request timeout; a window runs from the event until 2 s after it settled, at least --duration"));
        string[] headers = ["window", "event", "seconds", "ops/s", "p50 ms", "p99 ms", "errors", "unavail max ms", "unavail p99 ms", "keys > 1 s", "commits/op"];
        var rows = elastic.Windows.Select(w => new[]
        {
            w.Name,
            w.What,
            w.Figures.Seconds.ToString("0.0", CultureInfo.InvariantCulture),
            w.Figures.OpsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
            Ms(w.Figures.Latency?.P50Ms),
            Ms(w.Figures.Latency?.P99Ms),
            w.Figures.Errors.ToString("N0", CultureInfo.InvariantCulture),
            w.Figures.KeyGapMaxMs.ToString("N0", CultureInfo.InvariantCulture),
            w.Figures.KeyGapP99Ms.ToString("N0", CultureInfo.InvariantCulture),
            w.Figures.KeysDarkOver1s.ToString(CultureInfo.InvariantCulture),
            w.CommitsPerOp?.ToString("0.000", CultureInfo.InvariantCulture) ?? "-",
        }).ToList();
        rows.Add(
        [
            "overall", "every open-loop request", "-", "-", Ms(elastic.OverallLatency?.P50Ms), Ms(elastic.OverallLatency?.P99Ms),
            elastic.OverallErrors.ToString("N0", CultureInfo.InvariantCulture), "-", "-", "-", "-",
        ]);
        PrintRows(output, headers, rows, textColumns: 2);

        foreach (var window in elastic.Windows)
        {
            foreach (var line in window.Timeline)
            {
                output.WriteLine($"  {window.Name,-7} {line}");
            }

            if (window.Figures.ErrorKinds.Count > 0)
            {
                output.WriteLine($"  {window.Name,-7} errors: {string.Join(", ", window.Figures.ErrorKinds.OrderByDescending(e => e.Value).Select(e => $"{e.Key} x{e.Value:N0}"))}");
            }
        }

        if (elastic.PeakBefore is { } before)
        {
            var after = elastic.PeakAfterJoin is { } a
                ? string.Create(CultureInfo.InvariantCulture, $", {elastic.SilosAfterJoin} silos {a:N0}/s (x{(before > 0 ? a / before : 0):0.00})")
                : ", after the join: not measured";
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  Throughput (closed loop, {options.Concurrency} concurrent, the mix over the same keys): {elastic.SilosBefore} silos {before:N0}/s{after}"));
        }

        if (elastic.TimeToBalancedSeconds is { } balanced)
        {
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  Time to balanced after the join: {balanced:0.0} s after the new silo showed Active ({elastic.JoinActiveSeconds:0.0} s after the start command), {elastic.JoinMoves} shard moves"));
        }

        foreach (var skipped in elastic.Skipped)
        {
            output.WriteLine($"  Skipped: {skipped}");
        }

        output.WriteLine("  unavail: per key, the longest it went without a successful answer in the window (the floor is the key's interval); max and p99 over keys.");
    }

    private void PrintTable(TextWriter output)
    {
        string[] headers = ["target", "workload", "mode", "conc", "seconds", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "commits/op", "wtx/op"];
        var rows = session.Results.Select(r => new[]
        {
            r.Target,
            r.Workload,
            ModeText(r),
            r.Concurrency.ToString(CultureInfo.InvariantCulture),
            r.Seconds.ToString("0.00", CultureInfo.InvariantCulture),
            r.OpsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
            Ms(r.Latency?.P50Ms),
            Ms(r.Latency?.P99Ms),
            Ms(r.Latency?.P999Ms),
            r.Errors.ToString("N0", CultureInfo.InvariantCulture),
            r.CommitsPerOp?.ToString("0.000", CultureInfo.InvariantCulture) ?? "-",
            r.WriteTransactionsPerOp?.ToString("0.000", CultureInfo.InvariantCulture) ?? "-",
        }).ToList();

        PrintRows(output, headers, rows, textColumns: 3);
    }

    /// <summary>CPU microseconds per operation by process (--cpu, etcd, the harness), when measured: whose CPU a throughput figure was.</summary>
    private void PrintCpu(TextWriter output)
    {
        var measured = session.Results.Where(r => r.CpuMicrosPerOp is { Count: > 1 }).ToList();
        if (measured.Count == 0)
        {
            return;
        }

        var names = measured.SelectMany(r => r.CpuMicrosPerOp!.Keys).Distinct()
            .OrderBy(n => n == ProcessCpu.Harness ? 1 : 0).ThenBy(n => n, StringComparer.Ordinal).ToList();
        string[] headers = ["target", "workload", "mode", .. names, "all but harness"];
        var rows = measured.Select(r => new[] { r.Target, r.Workload, ModeText(r) }
            .Concat(names.Select(n => r.CpuMicrosPerOp!.TryGetValue(n, out var us) ? us.ToString("N0", CultureInfo.InvariantCulture) : "-"))
            .Append(r.CpuMicrosPerOp!.Where(p => p.Key != ProcessCpu.Harness).Sum(p => p.Value).ToString("N0", CultureInfo.InvariantCulture))
            .ToArray()).ToList();
        output.WriteLine();
        output.WriteLine("CPU per operation, microseconds (user + system over the window / successful operations):");
        PrintRows(output, headers, rows, textColumns: 3);
    }

    private static void PrintRows(TextWriter output, string[] headers, List<string[]> rows, int textColumns)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(row => row[i].Length))).ToArray();
        string Line(string[] cells)
        {
            var line = new StringBuilder("  ");
            for (var i = 0; i < cells.Length; i++)
            {
                line.Append(i < textColumns ? cells[i].PadRight(widths[i]) : cells[i].PadLeft(widths[i]));
                line.Append(i == cells.Length - 1 ? "" : "  ");
            }

            return line.ToString().TrimEnd();
        }

        output.WriteLine(Line(headers));
        output.WriteLine("  " + new string('-', widths.Sum() + (2 * (widths.Length - 1))));
        foreach (var row in rows)
        {
            output.WriteLine(Line(row));
        }
    }

    private static string Ms(double? value) => value?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-";

    /// <summary>The last successful run of the workload in <paramref name="among"/> (this session's results unless given).</summary>
    private RunResult? Find(string target, string workload, string mode, IEnumerable<RunResult>? among = null) =>
        (among ?? session.Results).LastOrDefault(r => r.Target == target && r.Workload == workload && r.Mode == mode && r.Ops > 0);

    /// <summary>Numerator over denominator within each round that measured both, in round order (one value without --rounds).</summary>
    private List<double> RoundRatios(string numTarget, string numWorkload, string denTarget, string denWorkload, string mode) =>
        session.Results.GroupBy(r => r.Round)
            .Select(round => (Num: Find(numTarget, numWorkload, mode, round), Den: Find(denTarget, denWorkload, mode, round)))
            .Where(pair => pair.Num is not null && pair.Den is { OpsPerSecond: > 0 })
            .Select(pair => pair.Num!.OpsPerSecond / pair.Den!.OpsPerSecond)
            .ToList();

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private string WhyMissing(string target, string workload, string mode)
    {
        var skipped = session.SkippedRuns.LastOrDefault(s => s.Target == target && (s.Workload is null || s.Workload == workload));
        if (skipped is not null)
        {
            return skipped.Reason.Length <= 70 ? skipped.Reason : $"{target} {skipped.Workload ?? ""} skipped, see above".Replace("  ", " ", StringComparison.Ordinal);
        }

        if (target == "kv" && !options.Workloads.Contains(workload))
        {
            return $"{workload} not selected (--workloads)";
        }

        if (target == JobsTarget.TargetName)
        {
            var job = workload == JobsTarget.NoOpWorkload ? "noop" : "primes";
            if (!options.Jobs.Contains(job))
            {
                return $"{job} not selected (--jobs)";
            }
        }
        else if (target != "kv" && !options.Baselines.Contains(target))
        {
            return $"{target} not selected (--baselines)";
        }

        if (mode == RunModes.Closed && options.Rate is not null)
        {
            return "no peak run in --rate mode";
        }

        return session.Results.Any(r => r.Target == target && r.Workload == workload && r.Mode == mode)
            ? $"{target} {workload}: no successful operation"
            : $"{target} {workload}: not run";
    }

    private static string? ErrorsNote(params RunResult[] runs)
    {
        var withErrors = runs.Where(r => r.Errors > 0).Select(r => $"{r.Target} {r.Workload}: {r.Errors:N0} errors").ToList();
        return withErrors.Count == 0 ? null : string.Join("; ", withErrors);
    }
}
