namespace OrleansCompute.Jobs;

/// <summary>Where a job is in its life (SPEC §4.3): queued → running (⇄ paused) → succeeded | failed | cancelled.</summary>
[GenerateSerializer, Alias("oc.JobStatus")]
public enum JobStatus
{
    /// <summary>Accepted and durable; waiting for its runAt, its dependencies or a free slot.</summary>
    Queued,

    /// <summary>Its tasks are being dispatched and run.</summary>
    Running,

    /// <summary>No new task starts until it is resumed; running ones are cancelled and run again on resume.</summary>
    Paused,

    /// <summary>Every task succeeded; the result is final.</summary>
    Succeeded,

    /// <summary>A task ran out of attempts, or a dependency did not succeed.</summary>
    Failed,

    /// <summary>Cancelled by a caller before it ended.</summary>
    Cancelled,
}

/// <summary>Where one task is.</summary>
[GenerateSerializer, Alias("oc.TaskStatus")]
public enum TaskState
{
    /// <summary>Waiting to be dispatched (first run or a retry after backoff).</summary>
    Pending,

    /// <summary>Dispatched to a silo and not yet reported.</summary>
    Running,

    /// <summary>Its last run succeeded; its result counts.</summary>
    Succeeded,

    /// <summary>Its last run failed and it has no attempts left.</summary>
    Failed,

    /// <summary>It will not run, because the job was cancelled or failed.</summary>
    Cancelled,
}

/// <summary>Questions about a <see cref="JobStatus"/> the Api and the grains both ask.</summary>
public static class JobStatuses
{
    /// <summary>True for succeeded, failed and cancelled: the job never changes again.</summary>
    public static bool IsTerminal(this JobStatus status) =>
        status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>The lowercase names the Api and the store use.</summary>
    public static string Name(this JobStatus status) => status.ToString().ToLowerInvariant();

    /// <summary>Reads a status name in any case; numbers are refused, so "3" is not a status.</summary>
    public static bool TryParse(string? text, out JobStatus status) =>
        Enum.TryParse(text, ignoreCase: true, out status) && !int.TryParse(text, out _);
}

/// <summary>Job ids: 12 hex digits of creation time in milliseconds, then 8 random ones, so they sort by creation.</summary>
public static class JobIds
{
    /// <summary>Characters in a job id.</summary>
    public const int Length = 20;

    /// <summary>True when <paramref name="text"/> has the shape of a job id (it may still not exist).</summary>
    public static bool IsValid(string? text) => text is { Length: Length } && text.All(char.IsAsciiHexDigitLower);
}

/// <summary>
/// What a caller submits. <see cref="Input"/> is the kind's input as JSON text; it is validated
/// against the kind's schema in the silo, where the kinds live.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.JobSpec")]
public sealed record JobSpec(
    string Kind,
    string Input,
    int MaxAttempts,
    double BackoffSeconds,
    int TimeoutSeconds,
    int Parallelism,
    int Priority,
    DateTimeOffset? RunAt,
    IReadOnlyList<string> DependsOn)
{
    /// <summary>Runs per task, the first included, when the spec does not say.</summary>
    public const int DefaultMaxAttempts = 3;

    /// <summary>Wait before the first retry when the spec does not say; it doubles with each further retry.</summary>
    public const double DefaultBackoffSeconds = 1;

    /// <summary>Longest run of one task, in seconds, when the spec does not say.</summary>
    public const int DefaultTimeoutSeconds = 300;

    /// <summary>Tasks of one job running at once when the spec does not say.</summary>
    public const int DefaultParallelism = 16;

    /// <summary>Largest parallelism a spec may ask for.</summary>
    public const int MaxParallelism = 1024;

    /// <summary>Largest maxAttempts a spec may ask for.</summary>
    public const int MaxAttemptsLimit = 100;

    /// <summary>Largest timeoutSeconds a spec may ask for (one day).</summary>
    public const int MaxTimeoutSeconds = 86_400;

    /// <summary>Most jobs one job may depend on.</summary>
    public const int MaxDependencies = 64;
}

/// <summary>A field of a request and what is wrong with it, e.g. ("input.to", "must be ≥ input.from").</summary>
[GenerateSerializer, Immutable, Alias("oc.FieldError")]
public sealed record FieldError(string Field, string Message);

/// <summary>How a submission ended.</summary>
[GenerateSerializer, Alias("oc.SubmitOutcome")]
public enum SubmitOutcome
{
    /// <summary>A new job was created and is durable.</summary>
    Created,

    /// <summary>The idempotency key was used before with the same spec: this is that job.</summary>
    Existing,

    /// <summary>The spec is invalid; see the errors. Nothing was created.</summary>
    Invalid,

    /// <summary>The idempotency key was used before with a different spec. Nothing was created.</summary>
    IdempotencyKeyReused,

    /// <summary>The tenant has as many active jobs as its quota allows. Nothing was created.</summary>
    QuotaExceeded,

    /// <summary>A retry or trigger named a job or schedule that does not exist. Nothing was created.</summary>
    NotFound,

    /// <summary>A retry named a job that is not failed or cancelled. Nothing was created.</summary>
    NotRetryable,
}

/// <summary>
/// The answer to a submission: its <paramref name="Outcome"/>, the job's id and status when there
/// is a job (created now or before, under the same idempotency key), and the field errors when the
/// spec is invalid.
/// </summary>
/// <param name="Outcome">How the submission ended.</param>
/// <param name="JobId">The job created, or found under the idempotency key; null when none.</param>
/// <param name="Status">That job's status.</param>
/// <param name="Errors">What is wrong with the spec, when <see cref="SubmitOutcome.Invalid"/>.</param>
[GenerateSerializer, Immutable, Alias("oc.SubmitResult")]
public sealed record SubmitResult(SubmitOutcome Outcome, string? JobId, JobStatus Status, IReadOnlyList<FieldError> Errors)
{
    /// <summary>A refused submission that names what is wrong.</summary>
    public static SubmitResult Invalid(params FieldError[] errors) => new(SubmitOutcome.Invalid, null, JobStatus.Queued, errors);
}

/// <summary>How many of a job's tasks are in each state.</summary>
/// <param name="Total">All tasks of the job.</param>
/// <param name="Pending">Waiting to run, first time or retry.</param>
/// <param name="Running">Dispatched and not yet reported.</param>
/// <param name="Succeeded">Done, with a result.</param>
/// <param name="Failed">Out of attempts.</param>
/// <param name="Cancelled">Will not run: the job was cancelled or failed before they ran.</param>
[GenerateSerializer, Immutable, Alias("oc.JobProgress")]
public sealed record JobProgress(int Total, int Pending, int Running, int Succeeded, int Failed, int Cancelled);

/// <summary>A job as the Api shows it. <see cref="Version"/> grows with every change, for change feeds.</summary>
[GenerateSerializer, Immutable, Alias("oc.JobView")]
public sealed record JobView(
    string Id,
    string Kind,
    JobStatus Status,
    JobProgress Progress,
    string? ResultJson,
    string? Error,
    int Attempts,
    int Priority,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    long Version,
    string? RetryOf = null,
    string? Schedule = null);

/// <summary>One task as the Api shows it.</summary>
[GenerateSerializer, Immutable, Alias("oc.TaskView")]
public sealed record TaskView(
    int Index,
    TaskState Status,
    int Attempts,
    string? Silo,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error);

/// <summary>A built-in or plug-in task kind, with its JSON Schema as text.</summary>
[GenerateSerializer, Immutable, Alias("oc.TaskKindInfo")]
public sealed record TaskKindInfo(string Name, string Description, string InputSchema);

/// <summary>A job's row in a listing.</summary>
[GenerateSerializer, Immutable, Alias("oc.JobSummary")]
public sealed record JobSummary(
    string Id, string Kind, JobStatus Status, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, string? RetryOf = null, string? Schedule = null);

/// <summary>Which jobs a listing shows; every filter given must hold. Times bound <c>createdAt</c>: after is inclusive, before exclusive.</summary>
[GenerateSerializer, Immutable, Alias("oc.JobFilter")]
public sealed record JobFilter(
    JobStatus? Status = null, string? Kind = null, string? Schedule = null, DateTimeOffset? CreatedAfter = null, DateTimeOffset? CreatedBefore = null);

/// <summary>How deleting a job ended.</summary>
[GenerateSerializer, Alias("oc.JobDeleteOutcome")]
public enum JobDeleteOutcome
{
    /// <summary>The job and its tasks are gone from the store.</summary>
    Deleted,

    /// <summary>There is no such job (or it was deleted before).</summary>
    NotFound,

    /// <summary>The job has not ended (or its end is not durable yet): cancel it first.</summary>
    Active,
}

/// <summary>
/// Where a job came from, kept in its idempotency key: a schedule fires with
/// "schedule/&lt;name&gt;/&lt;occurrence&gt;", a retry submits "retry/&lt;job id&gt;". The store's unique
/// key per tenant makes each of them one job however often it is asked for; callers may not use
/// these prefixes for their own keys, so the links cannot be forged.
/// </summary>
public static class JobOrigins
{
    private const string SchedulePrefix = "schedule/";
    private const string RetryPrefix = "retry/";

    /// <summary>The key of one run of a schedule (<paramref name="occurrence"/> tells the runs apart).</summary>
    public static string ScheduleKey(string schedule, string occurrence) => $"{SchedulePrefix}{schedule}/{occurrence}";

    /// <summary>The start every key of a schedule's jobs shares.</summary>
    public static string SchedulePrefixOf(string schedule) => $"{SchedulePrefix}{schedule}/";

    /// <summary>The key of the retry of a job.</summary>
    public static string RetryKey(string jobId) => RetryPrefix + jobId;

    /// <summary>True for keys only the engine may use.</summary>
    public static bool IsReserved(string idempotencyKey) =>
        idempotencyKey.StartsWith(SchedulePrefix, StringComparison.Ordinal) || idempotencyKey.StartsWith(RetryPrefix, StringComparison.Ordinal);

    /// <summary>The job a job with this key retries, if it is a retry.</summary>
    public static string? RetryOf(string? idempotencyKey) =>
        idempotencyKey is not null && idempotencyKey.StartsWith(RetryPrefix, StringComparison.Ordinal) ? idempotencyKey[RetryPrefix.Length..] : null;

    /// <summary>The schedule that submitted a job with this key, if one did.</summary>
    public static string? ScheduleOf(string? idempotencyKey) =>
        idempotencyKey is not null && idempotencyKey.StartsWith(SchedulePrefix, StringComparison.Ordinal) && idempotencyKey.IndexOf('/', SchedulePrefix.Length) is > 0 and var end
            ? idempotencyKey[SchedulePrefix.Length..end]
            : null;
}
