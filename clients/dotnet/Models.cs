using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCompute.Client;

/// <summary>How a table is created: every field optional; the server fills in its defaults.</summary>
public sealed record TableOptions(bool? Transactional = null, int? Shards = null, bool? Encrypted = null);

/// <summary>A table as the Api describes it.</summary>
public sealed record Table(
    string Name, bool Transactional, int Shards, bool Encrypted, DateTimeOffset CreatedAt,
    long? KeyCount = null, Resharding? Resharding = null);

/// <summary>A reshard in progress.</summary>
public sealed record Resharding(int From, int To, double Progress, DateTimeOffset StartedAt, string? Coordinator);

/// <summary>Conditions and options of a key write.</summary>
/// <param name="IfVersion">Write only when the key is at this version (If-Match); 412 otherwise.</param>
/// <param name="CreateOnly">Write only when the key does not exist (If-None-Match: *).</param>
/// <param name="TtlSeconds">The key expires this many seconds after the write.</param>
/// <param name="Fence">A fencing token: lock name and token (Fencing-Token header).</param>
public sealed record PutOptions(long? IfVersion = null, bool CreateOnly = false, int? TtlSeconds = null, Fence? Fence = null);

/// <summary>A fencing token issued by a lock.</summary>
public sealed record Fence(string Lock, long Token);

/// <summary>A key's version after a write; <see cref="Created"/> when the write created it.</summary>
public sealed record KeyVersion(string Key, long Version, bool Created = false);

/// <summary>
/// One event of a watch: <see cref="Type"/> is <c>put</c> or <c>delete</c> (with the key, its value
/// after the change, null for a delete, its version and the shard's revision), <c>progress</c>, or
/// <c>compacted</c> / <c>dropped</c>, which end the watch. <see cref="Cursor"/> resumes after it.
/// </summary>
public sealed record WatchEvent(string Type, string? Key, JsonElement Value, long Version, long Revision, string? Cursor);

/// <summary>A key with its value (any JSON value) and version.</summary>
public sealed record KeyEntry(string Key, JsonElement Value, long Version);

/// <summary>One batch operation: get, put (with <see cref="Value"/>) or delete.</summary>
public sealed record BatchOp(
    string Op,
    string Key,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] JsonElement Value = default,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? IfVersion = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? TtlSeconds = null)
{
    public static BatchOp Get(string key) => new("get", key);

    public static BatchOp Put(string key, JsonElement value, long? ifVersion = null, int? ttlSeconds = null) => new("put", key, value, ifVersion, ttlSeconds);

    public static BatchOp Delete(string key, long? ifVersion = null) => new("delete", key, IfVersion: ifVersion);
}

/// <summary>The outcome of one batch operation, as the HTTP status it would have had alone.</summary>
public sealed record BatchResult(string Op, string Key, int Status, long? Version, JsonElement Value = default);

/// <summary>A transaction: when every compare holds, the success ops run, else the failure ops; all or nothing.</summary>
public sealed record TxnRequest(
    IReadOnlyList<TxnCompare>? Compare = null, IReadOnlyList<TxnOp>? Success = null, IReadOnlyList<TxnOp>? Failure = null);

/// <summary>A compare: <see cref="Target"/> is value, version or exists; <see cref="Op"/> one of == != &gt; &gt;= &lt; &lt;=.</summary>
public sealed record TxnCompare(string Table, string Key, string Target, string Op, JsonElement Value);

/// <summary>A transaction operation: get, put, delete or add.</summary>
public sealed record TxnOp(
    string Op, string Table, string Key,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] JsonElement Value = default)
{
    public static TxnOp Get(string table, string key) => new("get", table, key);

    public static TxnOp Put(string table, string key, JsonElement value) => new("put", table, key, value);

    public static TxnOp Delete(string table, string key) => new("delete", table, key);

    public static TxnOp Add(string table, string key, double amount) => new("add", table, key, JsonSerializer.SerializeToElement(amount));
}

/// <summary>Which branch ran, and one result per op of it.</summary>
public sealed record TxnResult(bool Succeeded, IReadOnlyList<TxnOpResult> Results);

/// <summary>A key after a transaction op: its value (null when absent) and version (0 when absent).</summary>
public sealed record TxnOpResult(string Op, string Table, string Key, JsonElement? Value, long Version);

/// <summary>A job to submit. Only <see cref="Kind"/> is required.</summary>
public sealed record JobSpec(
    string Kind,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] JsonElement Input = default,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RetryPolicy? Retry = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? TimeoutSeconds = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Parallelism = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Priority = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? RunAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? DependsOn = null);

/// <summary>How a job's failing tasks are retried.</summary>
public sealed record RetryPolicy(int? MaxAttempts = null, double? BackoffSeconds = null);

/// <summary>The answer to a submission.</summary>
public sealed record JobAccepted(string Id, string Status);

/// <summary>A job's task counts; cancelled tasks will not run (the job was cancelled or failed first).</summary>
public sealed record JobProgress(int Total, int Pending, int Running, int Succeeded, int Failed, int Cancelled = 0);

/// <summary>A job; <see cref="Result"/> is its kind's JSON result once it succeeded.</summary>
public sealed record Job(
    string Id, string Kind, string Status, JobProgress Progress, JsonElement? Result, string? Error,
    int Attempts, int Priority, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    string? RetryOf = null, string? Schedule = null)
{
    /// <summary>True once the job succeeded, failed or was cancelled.</summary>
    [JsonIgnore]
    public bool IsFinished => Status is JobStatuses.Succeeded or JobStatuses.Failed or JobStatuses.Cancelled;
}

/// <summary>The job status names of the Api.</summary>
public static class JobStatuses
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Paused = "paused";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
}

/// <summary>A job as a list shows it; <see cref="RetryOf"/> names the job it retries, <see cref="Schedule"/> the schedule that submitted it.</summary>
public sealed record JobSummary(
    string Id, string Kind, string Status, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, string? RetryOf = null, string? Schedule = null);

/// <summary>Filters of a job listing; every one given must hold. CreatedAfter is inclusive, CreatedBefore exclusive.</summary>
public sealed record JobFilter(
    string? Status = null, string? Kind = null, string? Schedule = null, DateTimeOffset? CreatedAfter = null, DateTimeOffset? CreatedBefore = null)
{
    /// <summary>The filters as a query string ("" or "?..."), times in UTC.</summary>
    public string ToQuery()
    {
        var parts = new List<string>();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                parts.Add($"{name}={Uri.EscapeDataString(value)}");
            }
        }

        Add("status", Status);
        Add("kind", Kind);
        Add("schedule", Schedule);
        Add("createdAfter", CreatedAfter?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        Add("createdBefore", CreatedBefore?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }
}

/// <summary>One task of a job.</summary>
public sealed record JobTask(int Index, string Status, int Attempts, string? Silo, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Error);

/// <summary>A task kind with the JSON Schema of its input.</summary>
public sealed record TaskKind(string Name, string Description, JsonElement InputSchema);

/// <summary>A recurring job: a cron expression in a time zone, and the job it submits.</summary>
public sealed record ScheduleSpec(string Cron, JobSpec Job, string? TimeZone = null);

/// <summary>A schedule with its next and last runs.</summary>
public sealed record Schedule(
    string Name, string Cron, string TimeZone, JobSpec Job, bool Paused,
    DateTimeOffset? NextRun, DateTimeOffset? LastRun, string? LastJobId, string? LastError);

/// <summary>A tenant.</summary>
public sealed record Tenant(string Name, DateTimeOffset CreatedAt);

/// <summary>A newly issued API key; <see cref="Key"/> is shown only here.</summary>
public sealed record IssuedKey(string Id, string Key, string Name, IReadOnlyList<string> Scopes);

/// <summary>An API key as listed (never the secret itself).</summary>
public sealed record ApiKeyInfo(string Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt);

/// <summary>The cluster as the answering Api instance sees it.</summary>
public sealed record ClusterInfo(IReadOnlyList<SiloInfo> Silos, ApiInstance Api);

/// <summary>One silo of the membership.</summary>
public sealed record SiloInfo(string Address, string Name, string Status, string? Region, string HostName, int? Activations, int? Shards);

/// <summary>The Api instance that answered.</summary>
public sealed record ApiInstance(string Instance, bool Connected, int Gateways);

/// <summary>One page of a list.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);
