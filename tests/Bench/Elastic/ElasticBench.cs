using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OrleansCompute.Bench.Workloads;

namespace OrleansCompute.Bench.Elastic;

/// <summary>
/// The <c>elastic</c> workload (issue #11): PUT and GET at half of peak on a 16-shard table while,
/// in turn, a silo joins, one leaves on SIGTERM, one is SIGKILLed, and the table reshards 16 → 32
/// (when the Api accepts <c>PATCH /v1/tables/{t}</c>). Per event: per-key unavailability (max and
/// p99 over keys), latency, errors and commits per op; after the join, the time until the shards
/// are even again; and closed-loop throughput before and after the join.
/// </summary>
/// <remarks>
/// The cluster is not the harness's: it starts a silo with <c>--start-silo-cmd</c> and signals the
/// silos of <c>--silo-pids</c> (the first leaves, the second is killed). <c>run.sh --elastic</c>
/// passes both. Every wait is bounded; an event that does not settle in time is reported as such
/// and the run goes on.
/// </remarks>
public sealed class ElasticBench(Options options, LoadRunner runner, PgStats? pg, ProgressDisplay progress, Action<RunResult> add)
{
    public const int ReshardTo = 32;

    /// <summary>A request unanswered for this long is abandoned and the key's next one goes out.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);

    // Load before the first window of a segment, so every key has a last good answer to count from.
    private static readonly TimeSpan Lead = TimeSpan.FromSeconds(2);

    // Load kept on after an event has settled, so a late stall still falls inside its window.
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    private readonly ElasticSummary _summary = new() { RequestTimeoutSeconds = RequestTimeout.TotalSeconds };
    private string _phase = "";
    private long _phaseStart;
    private TimeSpan _phaseLength;

    public ElasticSummary Summary => _summary;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var log = new ProgressLog(progress);
        await using var target = await ElasticTarget.StartAsync(
            options.Api!, options.ApiKey, Math.Max(options.Concurrency, ElasticTarget.KeyCount), log, cancellationToken);
        using var controlClient = BenchHttp.CreateClient(options.Api!, 4, options.ApiKey);
        var cluster = new ClusterControl(controlClient, target.TableUri);
        _summary.Table = target.Table;
        _summary.Keys = ElasticTarget.KeyCount;

        var silos = await cluster.SilosAsync(cancellationToken)
            ?? throw new BenchSkipException("elastic: GET /v1/cluster failed (it needs the admin key: --api-key)");
        _summary.SilosBefore = silos.Count(s => s.Active);
        var balanced = await WaitBalancedAsync(cluster, _summary.SilosBefore.Value, TimeSpan.FromSeconds(60), cancellationToken);
        progress.WriteLine($"elastic: {_summary.SilosBefore} active silos, shards {balanced.Shares}{(balanced.Balanced ? "" : " (not even after 60 s)")}");

        // Peak of the mix on the starting cluster: the half-peak rate and "throughput before".
        if (options.Prime > TimeSpan.Zero)
        {
            await runner.PrimeAsync(target, target.Mix, options.Prime, cancellationToken);
        }

        var before = await PeakAsync(target, _summary.SilosBefore.Value, cancellationToken);
        _summary.PeakBefore = before.OpsPerSecond;
        if (options.Rate is { } rate)
        {
            _summary.Rate = rate;
            _summary.RateSource = "--rate";
        }
        else
        {
            if (before.OpsPerSecond <= 0)
            {
                throw new BenchSkipException("elastic: the peak run completed nothing");
            }

            _summary.Rate = Math.Round(before.OpsPerSecond / 2);
            _summary.RateSource = $"50% of the {_summary.SilosBefore}-silo peak";
        }

        progress.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"elastic: open loop at {_summary.Rate:N0} req/s ({_summary.RateSource}) over {ElasticTarget.KeyCount} keys, each every {_summary.KeyIntervalMs:0} ms, PUT and GET in turn"));

        var pids = options.SiloPids;
        var overall = new Histogram();

        // Segment 1: steady load, then the join.
        var joined = false;
        await RunSegmentAsync(target, overall, async load =>
        {
            await WindowAsync(load, "steady", $"no event ({_summary.SilosBefore} silos)", options.Duration, cancellationToken);
            if (options.StartSiloCommand is null)
            {
                _summary.Skipped.Add("join: no --start-silo-cmd given");
                return;
            }

            joined = await JoinAsync(load, cluster, options.StartSiloCommand, cancellationToken);
        }, cancellationToken);

        if (joined)
        {
            var after = await PeakAsync(target, _summary.SilosAfterJoin ?? 0, cancellationToken);
            _summary.PeakAfterJoin = after.OpsPerSecond;
        }

        // Segment 2: graceful leave, kill, reshard.
        await RunSegmentAsync(target, overall, async load =>
        {
            if (pids.Count >= 1)
            {
                await LeaveAsync(load, cluster, pids[0], cancellationToken);
            }
            else
            {
                _summary.Skipped.Add("leave: no --silo-pids given");
            }

            if (pids.Count >= 2)
            {
                await KillAsync(load, cluster, pids[1], cancellationToken);
            }
            else
            {
                _summary.Skipped.Add("kill: needs a second PID in --silo-pids");
            }

            await ReshardAsync(load, cluster, cancellationToken);
        }, cancellationToken);
    }

    private async Task<RunResult> PeakAsync(ElasticTarget target, int silos, CancellationToken cancellationToken)
    {
        var result = await runner.RunAsync(target, target.Mix, RunModes.Closed, null, pg, new ProcessCpu(options.CpuProcesses), cancellationToken);
        result = result with { Workload = $"elastic-mix ({silos} silos)" };
        add(result);
        return result;
    }

    /// <summary>Open-loop load at the summary's rate for the duration of <paramref name="body"/>, plus a lead.</summary>
    private async Task RunSegmentAsync(ElasticTarget target, Histogram overall, Func<KeyLoad, Task> body, CancellationToken cancellationToken)
    {
        var load = new KeyLoad(target.Client, target.KeyUris, _summary.Rate, RequestTimeout);
        SetPhase("lead", Lead);
        load.Start(cancellationToken);
        try
        {
            await using (progress.Start("kv elastic", () => Sample(load)))
            {
                await Task.Delay(Lead, cancellationToken);
                await body(load);
            }
        }
        finally
        {
            await load.StopAsync();
        }

        var measuredFrom = load.StartTimestamp + (long)(Lead.TotalSeconds * Stopwatch.Frequency);
        var latencies = KeyLoadAnalysis.Latencies(load, measuredFrom);
        overall.Add(latencies);
        _summary.OverallLatency = overall.Summarize();
        _summary.OverallOps += latencies.Count;
        _summary.OverallErrors += load.Samples.SelectMany(s => s).Count(s => !s.Success && s.End >= measuredFrom);
    }

    private async Task WindowAsync(KeyLoad load, string name, string what, TimeSpan length, CancellationToken cancellationToken)
    {
        var (from, pgFrom) = await MarkAsync(cancellationToken);
        SetPhase(name, length);
        await Task.Delay(length, cancellationToken);
        await EndWindowAsync(load, name, what, from, pgFrom, [], cancellationToken);
    }

    private async Task<bool> JoinAsync(KeyLoad load, ClusterControl cluster, string command, CancellationToken cancellationToken)
    {
        var silos = await cluster.SilosAsync(cancellationToken) ?? [];
        var activeBefore = silos.Where(s => s.Active).Select(s => s.Address).ToHashSet(StringComparer.Ordinal);
        var movesBefore = silos.Where(s => s.Active).Sum(s => s.MovesCompleted ?? 0);
        var timeline = new List<string>();
        var (from, pgFrom) = await MarkAsync(cancellationToken);
        SetPhase("join", options.Duration);
        string started;
        try
        {
            started = await SiloProcesses.StartAsync(command, cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            _summary.Skipped.Add($"join: {e.Message}");
            return false;
        }

        progress.WriteLine($"elastic: join: started a silo ({started})");
        timeline.Add(At(from, Stopwatch.GetTimestamp(), $"start command returned ({started})"));
        SiloView? newcomer = null;
        var active = await ClusterControl.WaitUntilAsync(
            async () =>
            {
                newcomer = (await cluster.SilosAsync(cancellationToken))?.FirstOrDefault(s => s.Active && !activeBefore.Contains(s.Address));
                return newcomer is not null;
            },
            Poll,
            TimeSpan.FromSeconds(180),
            cancellationToken);
        var settled = Stopwatch.GetTimestamp();
        var what = $"a silo joins ({activeBefore.Count} -> {activeBefore.Count + 1} silos)";
        if (active is not { } activeAt)
        {
            timeline.Add("no new silo turned Active within 180 s");
        }
        else
        {
            what = $"{newcomer!.Name} joins ({activeBefore.Count} -> {activeBefore.Count + 1} silos)";
            _summary.JoinActiveSeconds = Seconds(from, activeAt);
            timeline.Add(At(from, activeAt, $"{newcomer.Name} Active"));
            Balance? last = null;
            var even = await ClusterControl.WaitUntilAsync(
                async () =>
                {
                    last = await cluster.BalanceAsync(cancellationToken) ?? last;
                    return last is { Balanced: true } b && b.ActiveSilos > activeBefore.Count;
                },
                Poll,
                TimeSpan.FromSeconds(90),
                cancellationToken);
            if (even is { } evenAt)
            {
                _summary.TimeToBalancedSeconds = Seconds(activeAt, evenAt);
                var after = await cluster.SilosAsync(cancellationToken) ?? [];
                _summary.JoinMoves = after.Where(s => s.Active).Sum(s => s.MovesCompleted ?? 0) - movesBefore;
                _summary.SilosAfterJoin = after.Count(s => s.Active);
                timeline.Add(At(from, evenAt, $"balanced {last?.Shares} ({Seconds(activeAt, evenAt):0.0} s after Active, {_summary.JoinMoves} moves)"));
                settled = evenAt;
            }
            else
            {
                _summary.SilosAfterJoin = activeBefore.Count + 1;
                timeline.Add($"not balanced within 90 s of Active (last shares {last?.Shares ?? "unknown"})");
                settled = Stopwatch.GetTimestamp();
            }
        }

        await HoldAsync(from, settled, cancellationToken);
        await EndWindowAsync(load, "join", what, from, pgFrom, timeline, cancellationToken);
        return active is not null;
    }

    private async Task LeaveAsync(KeyLoad load, ClusterControl cluster, int pid, CancellationToken cancellationToken)
    {
        var silos = await cluster.SilosAsync(cancellationToken) ?? [];
        var namesBefore = silos.Where(s => s.Active).ToDictionary(s => s.Address, s => s.Name, StringComparer.Ordinal);
        var activeBefore = namesBefore.Count;
        var timeline = new List<string>();
        var (from, pgFrom) = await MarkAsync(cancellationToken);
        SetPhase("leave", options.Duration);
        try
        {
            await SiloProcesses.SignalAsync(pid, "TERM", cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            _summary.Skipped.Add($"leave: {e.Message}");
            return;
        }

        progress.WriteLine($"elastic: leave: SIGTERM to pid {pid}");
        var exited = ClusterControl.WaitUntilAsync(() => Task.FromResult(!SiloProcesses.IsRunning(pid)), TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(60), cancellationToken);
        Balance? last = null;
        var even = ClusterControl.WaitUntilAsync(
            async () =>
            {
                last = await cluster.BalanceAsync(cancellationToken) ?? last;
                return last is { Balanced: true } b && b.ActiveSilos < activeBefore;
            },
            Poll,
            TimeSpan.FromSeconds(60),
            cancellationToken);
        var exitedAt = await exited;
        var evenAt = await even;
        var exitLine = exitedAt is { } e1 ? At(from, e1, $"pid {pid} exited") : $"pid {pid} still running 60 s after SIGTERM";
        var evenLine = evenAt is { } e2 ? At(from, e2, $"shards on the remaining silos, {last?.Shares}") : $"shards not even on the remaining silos within 60 s ({last?.Shares ?? "unknown"})";
        // In the order they happened: a draining silo hands its shards over before it exits.
        timeline.AddRange(evenAt < exitedAt ? [evenLine, exitLine] : [exitLine, evenLine]);
        var settled = Math.Max(exitedAt ?? Stopwatch.GetTimestamp(), evenAt ?? Stopwatch.GetTimestamp());
        // The silo that left: active before, not now.
        var activeNow = (await cluster.SilosAsync(cancellationToken) ?? []).Where(s => s.Active).Select(s => s.Address).ToHashSet(StringComparer.Ordinal);
        var leaver = namesBefore.Where(n => !activeNow.Contains(n.Key)).Select(n => n.Value).FirstOrDefault() ?? $"pid {pid}";
        await HoldAsync(from, settled, cancellationToken);
        await EndWindowAsync(load, "leave", $"SIGTERM, {leaver} ({activeBefore} -> {activeBefore - 1} silos)", from, pgFrom, timeline, cancellationToken);
    }

    private async Task KillAsync(KeyLoad load, ClusterControl cluster, int pid, CancellationToken cancellationToken)
    {
        var silos = await cluster.SilosAsync(cancellationToken) ?? [];
        var activeBefore = silos.Where(s => s.Active).ToDictionary(s => s.Address, s => s.Name, StringComparer.Ordinal);
        var timeline = new List<string>();
        var (from, pgFrom) = await MarkAsync(cancellationToken);
        SetPhase("kill", options.Duration);
        try
        {
            await SiloProcesses.SignalAsync(pid, "KILL", cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            _summary.Skipped.Add($"kill: {e.Message}");
            return;
        }

        progress.WriteLine($"elastic: kill: SIGKILL to pid {pid}");
        SiloView? victim = null;
        var deadAt = await ClusterControl.WaitUntilAsync(
            async () =>
            {
                victim = (await cluster.SilosAsync(cancellationToken))?.FirstOrDefault(s => s.Status == "Dead" && activeBefore.ContainsKey(s.Address));
                return victim is not null;
            },
            Poll,
            TimeSpan.FromSeconds(120),
            cancellationToken);
        var settled = Stopwatch.GetTimestamp();
        if (deadAt is not { } dead)
        {
            timeline.Add("no silo declared Dead within 120 s");
        }
        else
        {
            timeline.Add(At(from, dead, $"{victim!.Name} declared Dead"));
            var servedAt = await ClusterControl.WaitUntilAsync(() => Task.FromResult(load.AllKeysServedSince(dead)), TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(60), cancellationToken);
            timeline.Add(servedAt is { } s1 ? At(from, s1, "every key answered a request sent after that") : "not every key served again within 60 s of the death");
            Balance? last = null;
            var evenAt = await ClusterControl.WaitUntilAsync(
                async () =>
                {
                    last = await cluster.BalanceAsync(cancellationToken) ?? last;
                    return last is { Balanced: true } b && b.ActiveSilos < activeBefore.Count;
                },
                Poll,
                TimeSpan.FromSeconds(60),
                cancellationToken);
            timeline.Add(evenAt is { } e2 ? At(from, e2, $"shards on the remaining silos, {last?.Shares}") : $"shards not even on the remaining silos within 60 s ({last?.Shares ?? "unknown"})");
            settled = Math.Max(servedAt ?? Stopwatch.GetTimestamp(), evenAt ?? Stopwatch.GetTimestamp());
        }

        var name = victim?.Name ?? $"pid {pid}";
        await HoldAsync(from, settled, cancellationToken);
        await EndWindowAsync(load, "kill", $"SIGKILL, {name} ({activeBefore.Count} -> {activeBefore.Count - 1} silos)", from, pgFrom, timeline, cancellationToken);
    }

    private async Task ReshardAsync(KeyLoad load, ClusterControl cluster, CancellationToken cancellationToken)
    {
        var timeline = new List<string>();
        var (from, pgFrom) = await MarkAsync(cancellationToken);
        SetPhase("reshard", options.Duration);
        int status;
        string body;
        try
        {
            (status, body) = await cluster.ReshardAsync(ReshardTo, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            _summary.Skipped.Add($"reshard: PATCH /v1/tables/{{t}} failed: {e.Message}");
            return;
        }

        if (status != 202)
        {
            // 404/405: no such endpoint in this build; anything else (a 400 that says why) is shown with its body.
            var why = status is 404 or 405 ? " (online resharding is not in this Api build)" : body.Length > 0 ? $": {body}" : "";
            _summary.Skipped.Add($"reshard {ElasticTarget.Shards} -> {ReshardTo}: PATCH /v1/tables/{{t}} {{\"shards\":{ReshardTo}}} answered {status} {LoadRunner.StatusName(status)}{why}");
            progress.WriteLine($"elastic: reshard skipped: PATCH answered {status}");
            return;
        }

        progress.WriteLine($"elastic: reshard: PATCH {{\"shards\":{ReshardTo}}} answered 202");
        timeline.Add(At(from, Stopwatch.GetTimestamp(), "PATCH answered 202"));
        var doneAt = await ClusterControl.WaitUntilAsync(
            async () =>
            {
                var table = await cluster.TableAsync(cancellationToken);
                var shards = await cluster.ShardsAsync(cancellationToken);
                return table is { } t && ReshardDone(t) && shards?.Count == ReshardTo;
            },
            TimeSpan.FromMilliseconds(500),
            TimeSpan.FromSeconds(120),
            cancellationToken);
        timeline.Add(doneAt is { } d ? At(from, d, $"GET /v1/tables/{{t}} shows {ReshardTo} shards and no reshard in progress") : "not finished within 120 s");
        await HoldAsync(from, doneAt ?? Stopwatch.GetTimestamp(), cancellationToken);
        await EndWindowAsync(load, "reshard", $"PATCH shards {ElasticTarget.Shards} -> {ReshardTo}", from, pgFrom, timeline, cancellationToken);
    }

    // The table reports the new count, and nothing named like a reshard is still running
    // (GET /v1/tables/{t} shows "resharding": {from, to, progress, ...} until the new layout is in place).
    private static bool ReshardDone(JsonElement table)
    {
        if (!table.TryGetProperty("shards", out var shards) || shards.ValueKind != JsonValueKind.Number || shards.GetInt32() != ReshardTo)
        {
            return false;
        }

        foreach (var property in table.EnumerateObject())
        {
            if (!property.Name.Contains("reshard", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var value = property.Value;
            switch (value.ValueKind)
            {
                case JsonValueKind.Null or JsonValueKind.False or JsonValueKind.Undefined:
                    continue;
                case JsonValueKind.Object:
                    // The Api lists "resharding" only while one runs; an object that says it is done is done.
                    var finished = value.EnumerateObject().Any(field =>
                        field.Name is "state" or "status" or "phase" && field.Value.ValueKind == JsonValueKind.String
                        && field.Value.GetString()?.ToLowerInvariant() is "done" or "completed" or "complete" or "finished" or "succeeded");
                    if (!finished)
                    {
                        return false;
                    }

                    continue;
                default:
                    return false;
            }
        }

        return true;
    }

    /// <summary>Keeps the window open until <see cref="Settle"/> after the event settled, and at least --duration from its start.</summary>
    private async Task HoldAsync(long from, long settled, CancellationToken cancellationToken)
    {
        var end = Math.Max(settled + (long)(Settle.TotalSeconds * Stopwatch.Frequency), from + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency));
        _phaseLength = Stopwatch.GetElapsedTime(from, end);
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), end);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }
    }

    private async Task EndWindowAsync(
        KeyLoad load, string name, string what, long from, PgSnapshot? pgFrom, IReadOnlyList<string> timeline, CancellationToken cancellationToken)
    {
        var to = Stopwatch.GetTimestamp();
        var pgTo = pg is null ? (PgSnapshot?)null : await pg.ReadAsync(cancellationToken);
        var figures = KeyLoadAnalysis.Analyze(load, from, to);
        var window = new ElasticWindow(
            name, what, figures,
            pgFrom is { } a && pgTo is { } b ? b.Commits - a.Commits : null,
            pgFrom is { } a2 && pgTo is { } b2 ? b2.NextXid - a2.NextXid : null,
            timeline);
        _summary.Windows.Add(window);
        progress.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  kv elastic {name}: {figures.OpsPerSecond:N0} ops/s, p99 {figures.Latency?.P99Ms ?? 0:0.00} ms, {figures.Errors:N0} errors, per-key unavailability max {figures.KeyGapMaxMs:N0} ms, p99 {figures.KeyGapP99Ms:N0} ms"));
        foreach (var line in timeline)
        {
            progress.WriteLine($"    {line}");
        }
    }

    private async Task<(long Timestamp, PgSnapshot? Pg)> MarkAsync(CancellationToken cancellationToken)
    {
        // Read under load, as LoadRunner does: both edges of every window lag alike.
        var snapshot = pg is null ? (PgSnapshot?)null : await pg.ReadAsync(cancellationToken);
        return (Stopwatch.GetTimestamp(), snapshot);
    }

    private async Task<Balance> WaitBalancedAsync(ClusterControl cluster, int silos, TimeSpan deadline, CancellationToken cancellationToken)
    {
        Balance? last = null;
        await ClusterControl.WaitUntilAsync(
            async () =>
            {
                last = await cluster.BalanceAsync(cancellationToken) ?? last;
                return last is { Balanced: true } b && b.ActiveSilos == silos;
            },
            Poll,
            deadline,
            cancellationToken);
        return last ?? new Balance(false, 0, "unknown");
    }

    private void SetPhase(string name, TimeSpan length)
    {
        _phase = name;
        _phaseLength = length;
        Volatile.Write(ref _phaseStart, Stopwatch.GetTimestamp());
    }

    private ProgressSample Sample(KeyLoad load) =>
        new(_phase, Stopwatch.GetElapsedTime(Volatile.Read(ref _phaseStart)), _phaseLength, load.Completed, load.Errors);

    private static double Seconds(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalSeconds;

    private static string At(long from, long at, string what) => string.Create(CultureInfo.InvariantCulture, $"{Seconds(from, at),5:0.0} s  {what}");

    private sealed class ProgressLog(ProgressDisplay display) : StringWriter(CultureInfo.InvariantCulture)
    {
        public override void WriteLine(string? value) => display.WriteLine(value ?? "");
    }
}
