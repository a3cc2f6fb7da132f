using System.Text.Json;
using OrleansCompute.Faults.Checkers;

namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>
/// Hands a phase's history of one workload to the checkers (tests/Faults/Checkers, written on
/// branch checkers; this harness writes no checker of its own). The ops go through the checkers'
/// own JSONL reader, so what is checked is exactly what the history file holds.
/// </summary>
public static class Checking
{
    /// <summary>
    /// How long after its invoke an indeterminate write may still take effect: the Api's request
    /// deadline (4 s from its receipt of the request) and 1 s for that receipt and the slack of the
    /// two store-clock mappings the deadline crosses processes by (docs/reliability.md, "Bounded
    /// effects"). Before the deadline held across processes, every CI history had writes past it.
    /// </summary>
    public static readonly TimeSpan EffectBound = TimeSpan.FromSeconds(5);

    public static Verdict Check(string workload, IReadOnlyList<Op> ops, int seed, string fault)
    {
        var meta = new HistoryMeta
        {
            Workload = workload, Seed = seed, Fault = fault, TicksPerSecond = System.Diagnostics.Stopwatch.Frequency,
            EffectDeadline = (long)(EffectBound.TotalSeconds * System.Diagnostics.Stopwatch.Frequency),
        };
        var history = HistoryReader.Read(new[] { JsonSerializer.Serialize(meta, HistoryJson.Options) }
            .Concat(ops.Select(o => JsonSerializer.Serialize(o, History.Json))));
        // Every checker whose op kinds occur: the locks workload is judged by the locks checker
        // (tokens, fenced writes, fenced reads) and the leases checker (no lease ended early).
        var verdicts = Checks.All(history);
        return verdicts.Count switch
        {
            0 => Verdict.Unknown(workload, history.Ops.Count, "no checker judges these op kinds"),
            1 => verdicts[0],
            _ => Verdict.Combine(string.Join("+", verdicts.Select(v => v.Checker)), verdicts),
        };
    }
}
