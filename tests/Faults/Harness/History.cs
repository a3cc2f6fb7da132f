using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>How a call ended, as the client saw it (SPEC §8): written "ok", "fail", "unknown".</summary>
public static class Outcomes
{
    /// <summary>Answered, and the answer says what happened (also a 404 get, 412, 409 fenced).</summary>
    public const string Ok = "ok";

    /// <summary>Definitely applied nothing: a 4xx, or a 503 other than outcome-unknown.</summary>
    public const string Fail = "fail";

    /// <summary>No answer to trust: a timeout, a cut connection, 503 outcome-unknown, another 5xx. It may take effect at any later instant.</summary>
    public const string Unknown = "unknown";

    public static string Classify(int? status, string? problemType, params int[] observations) => status switch
    {
        null => Unknown,
        >= 200 and < 300 => Ok,
        { } s when observations.Contains(s) => Ok,
        503 => problemType?.EndsWith("outcome-unknown", StringComparison.Ordinal) == true ? Unknown : Fail,
        >= 400 and < 500 => Fail,
        _ => Unknown,
    };
}

/// <summary>
/// One operation of a history, one JSON line. The fields and kinds are the JSONL history model of
/// the checkers (tests/Faults/Checkers, branch checkers: kv.get, kv.put, bank.transfer, job.result,
/// lock.acquire …), so a run's history file is read by their HistoryReader as it is; the harness
/// adds <see cref="Workload"/>, <see cref="Phase"/> and <see cref="Resource"/>, which the reader ignores.
/// Times are ticks of the harness's one Stopwatch (<see cref="Stopwatch.Frequency"/> per second).
/// An operation with no answer has no <see cref="Complete"/>: it may take effect at any later instant.
/// </summary>
public sealed class Op
{
    public string Kind { get; init; } = "";
    public int Process { get; init; }
    public long Invoke { get; init; }
    public long? Complete { get; set; }
    public string Outcome { get; set; } = Outcomes.Unknown;
    public int? Status { get; set; }
    public string? Error { get; set; }

    public string? Table { get; init; }
    public string? Key { get; init; }
    public string? Value { get; set; }
    public long? Version { get; set; }
    public long? IfVersion { get; init; }
    public bool? IfAbsent { get; init; }

    /// <summary>KV answer: ok, created, notFound, preconditionFailed.</summary>
    public string? Result { get; set; }

    public string? From { get; init; }
    public string? To { get; init; }
    public long? Amount { get; init; }
    public bool? Succeeded { get; set; }
    public Dictionary<string, long>? Balances { get; set; }

    public string? JobId { get; set; }
    public string? JobKind { get; init; }
    public JsonNode? Expected { get; init; }
    public JsonNode? JobOutput { get; set; }
    public string? JobStatus { get; set; }
    public List<JsonObject>? Tasks { get; set; }

    public string? Name { get; init; }
    public string? Lease { get; set; }
    public long? Token { get; set; }
    public long? TtlMs { get; init; }

    /// <summary>Watch (Workloads/WatchWorkload): the logical stream, resumes included; event is "put" or "delete".</summary>
    public string? Stream { get; init; }
    public string? Prefix { get; init; }
    public long? Revision { get; init; }
    public string? Event { get; init; }

    // ---- the harness's own fields
    public string Workload { get; init; } = "";
    public int Phase { get; init; }

    /// <summary>The key, lock or job the op is about: what availability is measured on.</summary>
    public string Resource { get; init; } = "";
}

/// <summary>Every operation of a run, thread-safe, written as JSON lines.</summary>
public sealed class History
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly List<Op> _ops = [];
    private readonly Stopwatch _clock;

    public History(Stopwatch clock) => _clock = clock;

    public long Now => _clock.ElapsedTicks;

    public static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;

    public static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    public void Add(Op op)
    {
        lock (_ops)
        {
            _ops.Add(op);
        }
    }

    /// <summary>Marks the answer: its time, unless the outcome is unknown (then it never completed).</summary>
    public void End(Op op, string outcome)
    {
        op.Outcome = outcome;
        op.Complete = outcome == Outcomes.Unknown ? null : Now;
    }

    public IReadOnlyList<Op> Snapshot()
    {
        lock (_ops)
        {
            return [.. _ops.OrderBy(o => o.Invoke)];
        }
    }

    /// <summary>The checkers' meta line first, then the ops in invoke order.</summary>
    public static void Write(string path, IEnumerable<Op> ops, JsonObject meta)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine(meta.ToJsonString());
        foreach (var op in ops)
        {
            writer.WriteLine(JsonSerializer.Serialize(op, Json));
        }
    }
}
