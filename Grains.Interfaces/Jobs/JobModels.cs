namespace OrleansCompute.Jobs;

/// <summary>Where a job is in its life (SPEC §4.3): queued → running (⇄ paused) → succeeded | failed | cancelled.</summary>
[GenerateSerializer, Alias("oc.JobStatus")]
public enum JobStatus
{
    Queued,
    Running,
    Paused,
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>Where one task is.</summary>
[GenerateSerializer, Alias("oc.TaskStatus")]
public enum TaskState
{
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

public static class JobStatuses
{
    public static bool IsTerminal(this JobStatus status) =>
        status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>The lowercase names the Api and the store use.</summary>
    public static string Name(this JobStatus status) => status.ToString().ToLowerInvariant();

    public static bool TryParse(string? text, out JobStatus status) =>
        Enum.TryParse(text, ignoreCase: true, out status) && !int.TryParse(text, out _);
}

/// <summary>Job ids: 12 hex digits of creation time in milliseconds, then 8 random ones, so they sort by creation.</summary>
public static class JobIds
{
    public const int Length = 20;

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
    public const int DefaultMaxAttempts = 3;
    public const double DefaultBackoffSeconds = 1;
    public const int DefaultTimeoutSeconds = 300;
    public const int DefaultParallelism = 16;
    public const int MaxParallelism = 1024;
    public const int MaxAttemptsLimit = 100;
    public const int MaxTimeoutSeconds = 86_400;
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
}

[GenerateSerializer, Immutable, Alias("oc.SubmitResult")]
public sealed record SubmitResult(SubmitOutcome Outcome, string? JobId, JobStatus Status, IReadOnlyList<FieldError> Errors)
{
    public static SubmitResult Invalid(params FieldError[] errors) => new(SubmitOutcome.Invalid, null, JobStatus.Queued, errors);
}

[GenerateSerializer, Immutable, Alias("oc.JobProgress")]
public sealed record JobProgress(int Total, int Pending, int Running, int Succeeded, int Failed);

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
    long Version);

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
public sealed record JobSummary(string Id, string Kind, JobStatus Status, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);
