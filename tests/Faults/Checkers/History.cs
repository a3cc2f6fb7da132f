using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCompute.Faults.Checkers;

/// <summary>What the client knows about an operation once it is over.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Outcome>))]
public enum Outcome
{
    /// <summary>Answered with a result (2xx, and the answers that are observations: 404 of a get or
    /// delete, 412 of a conditional write, 409 `fenced`).</summary>
    [JsonStringEnumMemberName("ok")] Ok,

    /// <summary>Definitely not applied: a 4xx, or a 503 that is not `outcome-unknown` (SPEC §8).</summary>
    [JsonStringEnumMemberName("fail")] Fail,

    /// <summary>May or may not have taken effect, at any time after its invoke (or, with an effect
    /// deadline, no later than invoke + deadline): timeout, connection error, 503 `outcome-unknown`.</summary>
    [JsonStringEnumMemberName("unknown")] Unknown,
}

/// <summary>The result of a KV operation that answered.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<KvResult>))]
public enum KvResult
{
    /// <summary>Get found the key (value, version); put replaced (200); delete deleted (204).</summary>
    [JsonStringEnumMemberName("ok")] Ok,

    /// <summary>Put created the key (201): it was absent.</summary>
    [JsonStringEnumMemberName("created")] Created,

    /// <summary>404: get or unconditional delete found the key absent.</summary>
    [JsonStringEnumMemberName("notFound")] NotFound,

    /// <summary>412: the If-Match version (or If-None-Match: *) did not hold at the linearization point.</summary>
    [JsonStringEnumMemberName("preconditionFailed")] PreconditionFailed,

    /// <summary>409 `fenced`: a fenced write refused because a higher token had been applied; nothing was applied.</summary>
    [JsonStringEnumMemberName("fenced")] Fenced,
}

/// <summary>Reads a result the checkers do not know (a newer workload's) as absent rather than failing the whole history.</summary>
public sealed class LenientKvResultConverter : JsonConverter<KvResult?>
{
    private static readonly Dictionary<string, KvResult> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ok"] = KvResult.Ok,
        ["created"] = KvResult.Created,
        ["notFound"] = KvResult.NotFound,
        ["preconditionFailed"] = KvResult.PreconditionFailed,
        ["fenced"] = KvResult.Fenced,
    };

    public override bool HandleNull => true;

    public override KvResult? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && Names.TryGetValue(reader.GetString()!, out var result) ? result : null;

    public override void Write(Utf8JsonWriter writer, KvResult? value, JsonSerializerOptions options)
    {
        if (value is not { } result)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStringValue(Names.First(n => n.Value == result).Key);
    }
}

/// <summary>The op kinds, as written in the JSONL field <c>kind</c>.</summary>
public static class OpKinds
{
    public const string Meta = "meta";

    // KV registers (SPEC §4.1). Fields: table, key, value, version, ifVersion, ifAbsent, result.
    public const string KvGet = "kv.get";
    public const string KvPut = "kv.put";
    public const string KvDelete = "kv.delete";

    // Bank over /v1/txn (SPEC §4.2). Fields: from, to, amount, succeeded, balances.
    public const string BankInit = "bank.init";
    public const string BankTransfer = "bank.transfer";
    public const string BankRead = "bank.read";

    // Jobs (SPEC §4.3). Fields: jobId, jobKind, expected, result, jobStatus, tasks.
    public const string JobSubmit = "job.submit";
    public const string JobResult = "job.result";
    public const string JobTasks = "job.tasks";

    // Locks and fencing (SPEC §4.4). Fields: name, lease, token, holdFrom, holdTo, table, key, value.
    public const string LockAcquire = "lock.acquire";
    public const string LockRelease = "lock.release";
    public const string LockHold = "lock.hold";
    public const string LockWrite = "lock.write";
    public const string LockRead = "lock.read";

    // Leases (SPEC §4.4). Fields: lease, ttlMs.
    public const string LeaseGrant = "lease.grant";
    public const string LeaseKeepalive = "lease.keepalive";
    public const string LeaseRevoke = "lease.revoke";
    public const string LeaseEnded = "lease.ended";

    // Watch (SPEC §4.4). Fields: stream, table, prefix, fromRevision, key, revision, version, event, value, shard.
    public const string WatchStream = "watch.stream";
    public const string WatchEvent = "watch.event";
}

/// <summary>One task attempt as the service reports it (GET /v1/jobs/{id}/tasks, or the workload's own record).</summary>
public sealed record TaskRecord
{
    /// <summary>The task's id within its job (its index).</summary>
    public int Index { get; init; }

    public int Attempt { get; init; }

    /// <summary>"succeeded", "failed", "running", ...</summary>
    public string? Status { get; init; }

    public string? Silo { get; init; }

    /// <summary>Whether this attempt's result went into the job's result; when absent, a
    /// succeeded attempt counts.</summary>
    public bool? Counted { get; init; }

    [JsonIgnore]
    public bool IsCounted => Counted ?? string.Equals(Status, "succeeded", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// One operation of a history: one JSONL line. Common fields first; the others belong to the kinds
/// named in <see cref="OpKinds"/> and are left out of the line when null.
/// Times are ticks of one monotonic clock (<see cref="HistoryClock"/>) shared by every process of the
/// history; <see cref="HistoryMeta.TicksPerSecond"/> says how long a tick is.
/// </summary>
public sealed record Op
{
    public string Kind { get; init; } = "";

    /// <summary>The client process (thread, logical client) that ran it; one op at a time per process.</summary>
    public int Process { get; init; }

    /// <summary>When the request was sent.</summary>
    public long Invoke { get; init; }

    /// <summary>When the answer came (or the client gave up); null if never. For an observation that has no
    /// request (a watch event, a lease seen ended) invoke = complete = the time it was seen.</summary>
    public long? Complete { get; init; }

    public Outcome Outcome { get; init; }

    /// <summary>HTTP status, if an answer came.</summary>
    public int? Status { get; init; }

    /// <summary>Problem type or exception text, for the report.</summary>
    public string? Error { get; init; }

    // ---- KV (also the key of a fenced write / final read, and of a watch event)
    public string? Table { get; init; }
    public string? Key { get; init; }

    /// <summary>The value written or read. Values are compared as strings: workloads write unique values.
    /// Null for a delete, a 404, or a get of an absent key.</summary>
    public string? Value { get; init; }

    /// <summary>The version written (ETag of a put), read (ETag of a get), deleted, or of a watch event.</summary>
    public long? Version { get; init; }

    /// <summary>If-Match version of a conditional put or delete.</summary>
    public long? IfVersion { get; init; }

    /// <summary>If-None-Match: * (create-only put).</summary>
    public bool? IfAbsent { get; init; }

    /// <summary>What an answered KV write, read or fenced write observed (an unknown name reads as null).</summary>
    [JsonConverter(typeof(LenientKvResultConverter))]
    public KvResult? Result { get; init; }

    /// <summary>A fenced write refused (409 `fenced`, however the workload recorded its outcome): nothing was applied.</summary>
    [JsonIgnore]
    public bool IsFenced => Result == KvResult.Fenced || (Status == 409 && Kind == OpKinds.LockWrite);

    /// <summary>Answered and applied: outcome ok and not refused by a fence.</summary>
    [JsonIgnore]
    public bool IsApplied => Outcome == Outcome.Ok && !IsFenced;

    /// <summary>Definitely not applied: failed, or refused by a fence.</summary>
    [JsonIgnore]
    public bool IsRefused => Outcome == Outcome.Fail || IsFenced;

    // ---- Bank
    public string? From { get; init; }
    public string? To { get; init; }
    public long? Amount { get; init; }

    /// <summary>The txn's <c>succeeded</c>: its compare held, so its success branch ran.</summary>
    public bool? Succeeded { get; init; }

    /// <summary>Every account's balance (bank.read, bank.init).</summary>
    public Dictionary<string, long>? Balances { get; init; }

    // ---- Jobs
    public string? JobId { get; init; }
    public string? JobKind { get; init; }

    /// <summary>The known answer of a submitted job.</summary>
    public JsonElement? Expected { get; init; }

    /// <summary>The job's observed result (job.result) — JSON as the service returned it.</summary>
    public JsonElement? JobOutput { get; init; }

    public string? JobStatus { get; init; }
    public List<TaskRecord>? Tasks { get; init; }

    // ---- Locks, fencing, leases
    /// <summary>Lock name (lock.*; also the lock of a fenced write).</summary>
    public string? Name { get; init; }

    public string? Lease { get; init; }
    public long? Token { get; init; }

    /// <summary>lock.hold: when the service's records say this token started / stopped holding the lock, in
    /// the service's clock (for example unix milliseconds from its log). holdTo null: still held at the end.</summary>
    public long? HoldFrom { get; init; }

    public long? HoldTo { get; init; }

    public long? TtlMs { get; init; }

    // ---- Watch
    /// <summary>A logical watch stream (resumes included): every event with the same stream id.</summary>
    public string? Stream { get; init; }

    public string? Prefix { get; init; }
    public long? FromRevision { get; init; }
    public long? Revision { get; init; }

    /// <summary>"put" or "delete".</summary>
    public string? Event { get; init; }

    public int? Shard { get; init; }

    /// <summary>The line this op was read from (1-based), or its position; set by the reader, not written.</summary>
    [JsonIgnore]
    public int Line { get; init; }

    /// <summary>Completion time, or the end of time for an op that never completed.</summary>
    [JsonIgnore]
    public long CompleteOrEnd => Complete ?? long.MaxValue;

    /// <summary>A short, human-readable rendering for reports.</summary>
    public string Describe(HistoryMeta meta)
    {
        var parts = new List<string> { $"#{Line} p{Process} {Kind}" };
        void Add(string name, object? value)
        {
            if (value is not null)
            {
                parts.Add($"{name}={value}");
            }
        }

        Add("table", Table);
        Add("key", Key);
        Add("ifVersion", IfVersion);
        Add("ifAbsent", IfAbsent);
        Add("value", Value is null ? null : $"\"{Value}\"");
        Add("version", Version);
        Add("from", From);
        Add("to", To);
        Add("amount", Amount);
        Add("succeeded", Succeeded);
        Add("job", JobId);
        Add("name", Name);
        Add("lease", Lease);
        Add("token", Token);
        Add("stream", Stream);
        Add("revision", Revision);
        Add("event", Event);
        var result = Outcome switch
        {
            Outcome.Ok => Result is { } r ? $"ok:{r}" : "ok",
            Outcome.Fail => "fail",
            _ => "unknown",
        };
        if (Status is { } s)
        {
            result += $"({s})";
        }

        parts.Add($"→ {result}");
        parts.Add($"[{meta.Seconds(Invoke):F3}s, {(Complete is { } c ? $"{meta.Seconds(c):F3}s" : "∞")}]");
        return string.Join(' ', parts);
    }
}

/// <summary>The first line of a history file (kind "meta"); optional.</summary>
public sealed record HistoryMeta
{
    public string Kind { get; init; } = OpKinds.Meta;

    /// <summary>How many ticks make a second (Stopwatch.Frequency of the recorder).</summary>
    public long TicksPerSecond { get; init; } = Stopwatch.Frequency;

    /// <summary>If the product guarantees that a write takes effect within its deadline or never, that deadline
    /// in ticks: an unknown op then takes effect no later than invoke + deadline, or never.</summary>
    public long? EffectDeadline { get; init; }

    public string? Workload { get; init; }
    public long? Seed { get; init; }
    public string? Fault { get; init; }

    public double Seconds(long ticks) => (double)ticks / TicksPerSecond;

    public long Ticks(TimeSpan span) => (long)(span.TotalSeconds * TicksPerSecond);
}

/// <summary>A recorded history: its meta line and its ops, in file order.</summary>
public sealed class History(HistoryMeta meta, IReadOnlyList<Op> ops)
{
    public HistoryMeta Meta { get; } = meta;
    public IReadOnlyList<Op> Ops { get; } = ops;

    public History(IEnumerable<Op> ops, HistoryMeta? meta = null)
        : this(meta ?? new HistoryMeta(), Number(ops))
    {
    }

    public IEnumerable<Op> OfKind(params string[] kinds) => Ops.Where(op => kinds.Contains(op.Kind, StringComparer.Ordinal));

    // Ops built in code get their position as their line, so reports can name them.
    private static List<Op> Number(IEnumerable<Op> ops) =>
        ops.Select((op, i) => op.Line == 0 ? op with { Line = i + 1 } : op).ToList();
}

/// <summary>The one monotonic clock of a recorder: every process reads it for invoke and complete.</summary>
public sealed class HistoryClock
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    public long Now => _watch.ElapsedTicks;

    public long TicksPerSecond => Stopwatch.Frequency;
}

/// <summary>How an HTTP answer (or its absence) becomes an <see cref="Outcome"/>, by SPEC §8.</summary>
public static class Outcomes
{
    public const string OutcomeUnknownSuffix = "outcome-unknown";

    /// <summary>
    /// status null (timeout, connection error): unknown. 2xx: ok. 503 `outcome-unknown`: unknown; other 503: fail.
    /// Other 5xx: unknown (nothing promises they applied nothing). 4xx: fail — except the answers that observe
    /// the state, which the caller passes as <paramref name="observation"/> (404 of a get or delete, 412 of a
    /// conditional write, 409 `fenced`): those are ok.
    /// </summary>
    public static Outcome Classify(int? status, string? problemType, params int[] observation)
    {
        if (status is not { } s)
        {
            return Outcome.Unknown;
        }

        if (s is >= 200 and < 300 || observation.Contains(s))
        {
            return Outcome.Ok;
        }

        if (s == 503)
        {
            return problemType is not null && problemType.EndsWith(OutcomeUnknownSuffix, StringComparison.Ordinal)
                ? Outcome.Unknown
                : Outcome.Fail;
        }

        return s is >= 400 and < 500 ? Outcome.Fail : Outcome.Unknown;
    }
}

/// <summary>The JSON settings of history lines: camelCase, nulls left out.</summary>
public static class HistoryJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
    };
}

/// <summary>Appends ops as JSONL, one line each, flushed per line; safe to share between processes' threads.</summary>
public sealed class HistoryWriter : IDisposable
{
    private readonly TextWriter _writer;
    private readonly bool _own;
    private readonly Lock _gate = new();

    public HistoryWriter(TextWriter writer, HistoryMeta? meta = null, bool ownsWriter = false)
    {
        _writer = writer;
        _own = ownsWriter;
        if (meta is not null)
        {
            WriteLine(JsonSerializer.Serialize(meta, HistoryJson.Options));
        }
    }

    public static HistoryWriter Create(string path, HistoryMeta? meta = null) =>
        new(new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false)), meta, ownsWriter: true);

    public void Write(Op op) => WriteLine(JsonSerializer.Serialize(op, HistoryJson.Options));

    public void Dispose()
    {
        lock (_gate)
        {
            _writer.Flush();
            if (_own)
            {
                _writer.Dispose();
            }
        }
    }

    private void WriteLine(string line)
    {
        lock (_gate)
        {
            _writer.Write(line);
            _writer.Write('\n');
            _writer.Flush();
        }
    }

    /// <summary>The whole history as JSONL text.</summary>
    public static string ToJsonl(History history)
    {
        using var text = new StringWriter();
        using (var writer = new HistoryWriter(text, history.Meta))
        {
            foreach (var op in history.Ops)
            {
                writer.Write(op);
            }
        }

        return text.ToString();
    }
}

/// <summary>Reads JSONL histories: an optional meta line, then one op per line; blank lines are skipped.</summary>
public static class HistoryReader
{
    public static History ReadFile(string path) => Read(File.ReadLines(path));

    public static History Parse(string jsonl) => Read(jsonl.Split('\n'));

    public static History Read(IEnumerable<string> lines)
    {
        var meta = new HistoryMeta();
        var ops = new List<Op>();
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line);
                var kind = doc.RootElement.TryGetProperty("kind", out var k) ? k.GetString() : null;
                if (kind == OpKinds.Meta)
                {
                    meta = doc.RootElement.Deserialize<HistoryMeta>(HistoryJson.Options)!;
                    continue;
                }

                var op = doc.RootElement.Deserialize<Op>(HistoryJson.Options)
                    ?? throw new FormatException("null line");
                ops.Add(op with { Line = number });
            }
            catch (JsonException e)
            {
                throw new FormatException($"history line {number}: {e.Message}", e);
            }
        }

        return new History(meta, ops);
    }
}
