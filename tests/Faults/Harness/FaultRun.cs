using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using OrleansCompute.Faults.Checkers;
using OrleansCompute.Tests.Faults.Workloads;

namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>
/// What a run is asked to do. Quick: one round of every fault, short (the CI run). Only: the fault
/// names to keep from the seed's schedule (all when null), to measure one fault on its own.
/// </summary>
public sealed record RunOptions(int Seed, TimeSpan Length, bool Quick, string Directory, IReadOnlyList<string>? Only = null);

/// <summary>When a phase's fault began and healed, and when the phase ended (seconds of the run).</summary>
public sealed record PhaseTimes(FaultPlan Plan, double Start, double FaultStart, double HealAt, double End);

/// <summary>What a run saved beside its history (phases.json), enough to judge it again later.</summary>
public sealed record RecordedRun(RunOptions Options, List<PhaseTimes> Phases, List<string> Events, double Seconds, bool SkewVerified, string? Aborted);

public sealed record PhaseResult(PhaseTimes Times, string Workload, Verdict Verdict, int Ops, List<Unavailability> Unavailability);

public sealed record RunResult(RunOptions Options, List<PhaseResult> Results, List<string> Events, double Seconds, string ReportPath, string HistoryPath, bool SkewVerified)
{
    public IEnumerable<PhaseResult> Violations => Results.Where(r => r.Verdict.IsViolation);

    /// <summary>Why the run stopped before its schedule's end, if it did.</summary>
    public string? Aborted { get; init; }
}

/// <summary>
/// A run: the cluster in namespaces, every workload's clients running all along, and the faults of
/// the seeded schedule one after another. Each fault is a phase: fresh keys, two seconds of calm,
/// the fault for its duration, the heal, then until every resource of the phase was served again
/// (or a bound), so the report shows the time to recover.
/// </summary>
public static class FaultRun
{
    /// <summary>Every workload runs in every phase, at once; the watch workload watches the KV workload's keys.</summary>
    private static List<Workload> Workloads(History history, HttpClient http, int seed) =>
    [
        new KvWorkload(history, http, seed),
        new BankWorkload(history, http, seed),
        new JobWorkload(history, http, seed),
        new LockWorkload(history, http, seed),
        new WatchWorkload(history, http, seed),
    ];

    /// <summary>The command that replays a run's schedule (the quick round has no length).</summary>
    public static string Replay(RunOptions options) => (options.Quick
        ? $"tests/Faults/run.sh --quick --seed {options.Seed}"
        : $"tests/Faults/run.sh --seed {options.Seed} --minutes {options.Length.TotalMinutes:0.#}")
        + (options.Only is null ? "" : $" --only {string.Join(',', options.Only)}")
        + (options.Quick && options.Only is null ? $"   (or OC_FAULTS_SEED={options.Seed} for FaultMatrixTests)" : "");

    public static async Task<RunResult> RunAsync(RunOptions options, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        var events = new List<string>();
        void Note(string text)
        {
            var line = $"[{clock.Elapsed.TotalSeconds,7:F1}s] {text}";
            lock (events)
            {
                events.Add(line);
                // Also on disk as it happens: a run under xunit shows its output only at the end.
                System.IO.Directory.CreateDirectory(options.Directory);
                File.AppendAllText(Path.Combine(options.Directory, "events.log"), line + "\n");
            }

            log(line);
        }

        Note($"seed {options.Seed} (replay: {Replay(options)})");
        var plans = FaultSchedule.Make(options.Seed, options.Length, options.Quick)
            .Where(p => options.Only is null || options.Only.Contains(FaultPlan.Name(p.Kind)))
            .ToList();
        Note("schedule: " + string.Join("; ", plans.Select(p => p.Describe())));

        var history = new History(clock);
        var phases = new List<PhaseTimes>();
        bool skewVerified;
        Exception? aborted = null;
        await using (var cluster = await FaultCluster.StartAsync(options.Directory, Note))
        {
            var injector = new FaultInjector(cluster, Note);
            using var http = cluster.NewClient(TimeSpan.FromSeconds(10));
            var workloads = Workloads(history, http, options.Seed);
            try
            {
                foreach (var plan in plans)
                {
                    if (!options.Quick && clock.Elapsed > options.Length)
                    {
                        break;
                    }

                    phases.Add(await RunPhaseAsync(plan, cluster, injector, workloads, history, options, Note));
                }
            }
            catch (Exception e)
            {
                // The phases done so far are still checked and reported; the run counts as failed.
                Note($"RUN ABORTED in phase {phases.Count}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
                aborted = e;
            }
            finally
            {
                await injector.HealAllAsync();
            }

            Note("draining: reading open jobs to their end");
            await Task.WhenAll(workloads.Select(w => w.DrainAsync(TimeSpan.FromSeconds(options.Quick ? 30 : 90))));
            skewVerified = injector.SkewVerified;
            if (cluster.Restarts.Count > 0)
            {
                Note($"supervisor restarts (silos that exited by themselves): {string.Join(", ", cluster.Restarts)}");
            }
        }

        var ops = history.Snapshot();
        var historyPath = Path.Combine(options.Directory, "history.jsonl");
        History.Write(historyPath, ops, new JsonObject { ["kind"] = "meta", ["ticksPerSecond"] = Stopwatch.Frequency, ["seed"] = options.Seed });
        await File.WriteAllTextAsync(Path.Combine(options.Directory, "phases.json"), System.Text.Json.JsonSerializer.Serialize(new RecordedRun(options, phases, events, clock.Elapsed.TotalSeconds, skewVerified, aborted?.Message), History.Json));
        return await JudgeAsync(new RecordedRun(options, phases, events, clock.Elapsed.TotalSeconds, skewVerified, aborted?.Message), ops, historyPath, Note);
    }

    /// <summary>
    /// Checks a recorded run again (tests/Faults/run.sh --judge DIR): the checkers judge the saved
    /// history, and the report is written anew. For a history recorded before a checker existed.
    /// </summary>
    public static Task<RunResult> JudgeAgainAsync(string directory, Action<string> log)
    {
        var recorded = System.Text.Json.JsonSerializer.Deserialize<RecordedRun>(File.ReadAllText(Path.Combine(directory, "phases.json")), History.Json)!;
        var historyPath = Path.Combine(directory, "history.jsonl");
        var ops = File.ReadLines(historyPath).Skip(1).Select(l => System.Text.Json.JsonSerializer.Deserialize<Op>(l, History.Json)!).ToList();
        return JudgeAsync(recorded with { Options = recorded.Options with { Directory = directory } }, ops, historyPath, log);
    }

    private static async Task<RunResult> JudgeAsync(RecordedRun recorded, IReadOnlyList<Op> ops, string historyPath, Action<string> log)
    {
        var (options, phases, events, seconds, skewVerified, abortedMessage) = recorded;
        var results = new List<PhaseResult>();
        foreach (var phase in phases)
        {
            var end = phase.End;
            foreach (var workload in new[] { "kv", "bank", "jobs", "locks", WatchWorkload.WorkloadName })
            {
                var mine = ops.Where(o => o.Phase == phase.Plan.Phase && o.Workload == workload).ToList();
                var verdict = workload == WatchWorkload.WorkloadName
                    ? WatchWorkload.Check(mine, ops.Where(o => o.Phase == phase.Plan.Phase && o.Workload == "kv"), options.Seed, phase.Plan.Describe())
                    : Checking.Check(workload, mine, options.Seed, phase.Plan.Describe());
                results.Add(new PhaseResult(phase, workload, verdict, mine.Count, Unavailability.Measure(mine, phase.FaultStart, phase.HealAt, end)));
            }
        }

        var reportPath = Path.Combine(options.Directory, "report.md");
        var result = new RunResult(options, results, events, seconds, reportPath, historyPath, skewVerified) { Aborted = abortedMessage };
        await File.WriteAllTextAsync(reportPath, Report.Markdown(result));
        log($"report: {reportPath}");
        return result;
    }

    private static async Task<PhaseTimes> RunPhaseAsync(FaultPlan plan, FaultCluster cluster, FaultInjector injector, List<Workload> workloads, History history, RunOptions options, Action<string> note)
    {
        var phase = plan.Phase;
        using (var setup = new CancellationTokenSource(TimeSpan.FromSeconds(120)))
        {
            await Task.WhenAll(workloads.Select(w => w.SetUpAsync(phase, setup.Token)));
        }

        var start = History.Seconds(history.Now);
        using var stop = new CancellationTokenSource();
        var clients = workloads.SelectMany(w => Enumerable.Range(0, w.Clients).Select(c => Task.Run(() => w.RunClientAsync(phase, c, stop.Token)))).ToList();
        await Task.Delay(TimeSpan.FromSeconds(2));

        note($"phase {phase}: {plan.Describe()}");
        var faultStart = History.Seconds(history.Now);
        await injector.StartAsync(plan);
        await Task.Delay(plan.Duration);
        await injector.HealAsync(plan);
        var healAt = History.Seconds(history.Now);
        note($"phase {phase}: healed");

        // Until every key, lock and job stream of the phase was answered after the heal, or the bound.
        var bound = TimeSpan.FromSeconds(options.Quick ? 12 : 45);
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < bound)
        {
            var mine = history.Snapshot().Where(o => o.Phase == phase).ToList();
            var resources = mine.Select(o => o.Resource).Distinct().ToList();
            var recovered = resources.All(r => mine.Any(o => o.Resource == r && o.Outcome == Outcomes.Ok && o.Complete is not null && History.Seconds(o.Invoke) >= healAt));
            if (recovered && resources.Count >= 6)
            {
                break;
            }

            await Task.Delay(250);
        }

        await Task.Delay(TimeSpan.FromSeconds(1));
        stop.Cancel();
        await Task.WhenAll(clients);
        var end = History.Seconds(history.Now);

        // A silo that does not get ready in time is left to go on joining: the run goes on with
        // the others, and the report shows it (a defect when the machine is not overloaded).
        await Task.WhenAll(Network.Silos.Select(async silo =>
        {
            try
            {
                await cluster.WaitSiloReadyAsync(silo, TimeSpan.FromSeconds(options.Quick ? 45 : 90));
            }
            catch (InvalidOperationException e)
            {
                note($"phase {phase}: {silo} NOT READY: {e.Message.Split('\n')[0]}; going on without waiting");
            }
        }));

        return new PhaseTimes(plan, start, faultStart, healAt, end);
    }
}

/// <summary>The run's report in markdown: fault × workload → verdict, ops, unavailability, recovery.</summary>
public static class Report
{
    public static string Markdown(RunResult run)
    {
        var text = new StringBuilder();
        text.AppendLine($"# Fault run, seed {run.Options.Seed}");
        text.AppendLine();
        text.AppendLine($"- length: {run.Seconds / 60:F1} min ({(run.Options.Quick ? "quick: one round of every fault" : $"asked {run.Options.Length.TotalMinutes:0.#} min")}), {run.Results.Select(r => r.Times.Plan.Phase).Distinct().Count()} faults");
        text.AppendLine($"- replay: `{FaultRun.Replay(run.Options)}`");
        text.AppendLine($"- history: `{run.HistoryPath}` (JSONL, the checkers' model)");
        text.AppendLine($"- clock skew honoured by .NET (Date header of the skewed silo off by the skew): {(run.SkewVerified ? "yes" : "not verified in this run")}");
        text.AppendLine($"- effect bound: an indeterminate write takes effect within {Checking.EffectBound.TotalSeconds:0.##} s of its invoke or never (the kv checker closes it there)");
        text.AppendLine($"- ops per workload: {string.Join(", ", run.Results.GroupBy(r => r.Workload).Select(g => $"{g.Key} {g.Sum(r => r.Ops)}"))}");
        if (run.Aborted is not null)
        {
            text.AppendLine($"- **run aborted**: {run.Aborted.Split('\n')[0]}");
        }

        text.AppendLine($"- verdicts: {run.Results.Count(r => r.Verdict.IsOk)} ok, {run.Results.Count(r => r.Verdict.IsViolation)} violations, {run.Results.Count(r => !r.Verdict.IsOk && !r.Verdict.IsViolation)} unknown");
        text.AppendLine();
        text.AppendLine("Unavailability: the longest stretch, from the fault's start to the phase's end, in which a key / lock / job stream had no answered call (max over the phase's resources). Recovery: from the heal until the first call sent after it was answered (max over resources; `never` = not within the phase).");
        text.AppendLine();
        text.AppendLine("| # | fault | workload | verdict | ops | unknown | longest unavailable | worst resource | recovery after heal |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var r in run.Results)
        {
            var worst = r.Unavailability.OrderByDescending(u => u.LongestGapSeconds).FirstOrDefault();
            var recovery = r.Unavailability.Count == 0 ? "-" : r.Unavailability.Any(u => u.RecoverySeconds is null) ? "never" : $"{r.Unavailability.Max(u => u.RecoverySeconds!.Value):F1} s";
            text.AppendLine($"| {r.Times.Plan.Phase} | {r.Times.Plan.Describe()} | {r.Workload} | {r.Verdict.KindText} | {r.Ops} | {r.Unavailability.Sum(u => u.Unknown)} | {(worst is null ? "-" : $"{worst.LongestGapSeconds:F1} s")} | {worst?.Resource ?? "-"} | {recovery} |");
        }

        text.AppendLine();
        text.AppendLine("## Per resource");
        text.AppendLine();
        text.AppendLine("| # | fault | workload | resource | ops | unknown | longest unavailable | recovery |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in run.Results)
        {
            foreach (var u in r.Unavailability.OrderBy(u => u.Resource, StringComparer.Ordinal))
            {
                text.AppendLine($"| {r.Times.Plan.Phase} | {FaultPlan.Name(r.Times.Plan.Kind)} | {u.Workload} | {u.Resource} | {u.Ops} | {u.Unknown} | {u.LongestGapSeconds:F1} s | {(u.RecoverySeconds is { } s ? $"{s:F1} s" : "never")} |");
            }
        }

        var problems = run.Results.Where(r => !r.Verdict.IsOk).ToList();
        if (problems.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("## Verdicts that are not ok");
            foreach (var r in problems)
            {
                text.AppendLine();
                text.AppendLine($"### phase {r.Times.Plan.Phase}, {r.Times.Plan.Describe()}, {r.Workload}: {r.Verdict.KindText}");
                text.AppendLine();
                text.AppendLine("```");
                text.AppendLine(r.Verdict.Explanation);
                text.AppendLine("```");
            }
        }

        text.AppendLine();
        text.AppendLine("## Events");
        text.AppendLine();
        text.AppendLine("```");
        foreach (var e in run.Events)
        {
            text.AppendLine(e);
        }

        text.AppendLine("```");
        return text.ToString();
    }
}
