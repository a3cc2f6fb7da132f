using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using OrleansCompute.Jobs;

namespace OrleansCompute.Api.Jobs;

/// <summary>The body of <c>POST /v1/jobs</c> (SPEC §4.3). Unknown fields are rejected; omitted ones take defaults.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record JobRequest(
    string? Kind,
    JsonElement? Input,
    RetryRequest? Retry,
    int? TimeoutSeconds,
    int? Parallelism,
    int? Priority,
    DateTimeOffset? RunAt,
    string[]? DependsOn)
{
    /// <summary>The spec with defaults filled in, or the error when the request lacks a kind.</summary>
    public (JobSpec? Spec, Dictionary<string, string[]>? Errors) ToSpec(string prefix = "")
    {
        if (string.IsNullOrWhiteSpace(Kind))
        {
            return (null, new() { [prefix + "kind"] = ["is required: one of the kinds at /v1/task-kinds."] });
        }

        var input = Input is { ValueKind: not JsonValueKind.Undefined and not JsonValueKind.Null } given ? given.GetRawText() : "{}";
        return (new JobSpec(
            Kind,
            input,
            Retry?.MaxAttempts ?? JobSpec.DefaultMaxAttempts,
            Retry?.BackoffSeconds ?? JobSpec.DefaultBackoffSeconds,
            TimeoutSeconds ?? JobSpec.DefaultTimeoutSeconds,
            Parallelism ?? JobSpec.DefaultParallelism,
            Priority ?? 0,
            RunAt,
            DependsOn ?? []), null);
    }

    public static JobRequest From(JobSpec spec) => new(
        spec.Kind,
        JsonDocument.Parse(spec.Input).RootElement.Clone(),
        new RetryRequest(spec.MaxAttempts, spec.BackoffSeconds),
        spec.TimeoutSeconds,
        spec.Parallelism,
        spec.Priority,
        spec.RunAt,
        [.. spec.DependsOn]);
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RetryRequest(int? MaxAttempts, double? BackoffSeconds);

/// <summary>The answer to a submission.</summary>
public sealed record JobAccepted(string Id, string Status);

/// <summary>A job as SPEC §4.3 shows it; <c>result</c> is the kind's JSON result once the job succeeded.</summary>
public sealed record JobResponse(
    string Id,
    string Kind,
    string Status,
    JobProgress Progress,
    JsonNode? Result,
    string? Error,
    int Attempts,
    int Priority,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? RetryOf,
    string? Schedule)
{
    public static JobResponse From(JobView view) => new(
        view.Id, view.Kind, view.Status.Name(), view.Progress,
        view.ResultJson is null ? null : JsonNode.Parse(view.ResultJson),
        view.Error, view.Attempts, view.Priority, view.CreatedAt, view.StartedAt, view.FinishedAt, view.RetryOf, view.Schedule);
}

/// <summary>A job in a list; <c>retryOf</c> names the job it retries, <c>schedule</c> the schedule that submitted it.</summary>
public sealed record JobSummaryResponse(string Id, string Kind, string Status, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, string? RetryOf, string? Schedule)
{
    public static JobSummaryResponse From(JobSummary job) =>
        new(job.Id, job.Kind, job.Status.Name(), job.CreatedAt, job.FinishedAt, job.RetryOf, job.Schedule);
}

public sealed record TaskResponse(int Index, string Status, int Attempts, string? Silo, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Error)
{
    public static TaskResponse From(TaskView task) => new(
        task.Index, task.Status.ToString().ToLowerInvariant(), task.Attempts, task.Silo, task.StartedAt, task.FinishedAt, task.Error);
}

public sealed record TaskKindResponse(string Name, string Description, JsonNode InputSchema);

/// <summary>The body of <c>PUT /v1/schedules/{name}</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ScheduleRequest(string? Cron, string? TimeZone, JobRequest? Job);

public sealed record ScheduleResponse(
    string Name,
    string Cron,
    string TimeZone,
    JobRequest Job,
    bool Paused,
    DateTimeOffset? NextRun,
    DateTimeOffset? LastRun,
    string? LastJobId,
    string? LastError)
{
    public static ScheduleResponse From(ScheduleView view) => new(
        view.Name, view.Cron, view.TimeZone, JobRequest.From(view.Job), view.Paused, view.NextRun, view.LastRun, view.LastJobId, view.LastError);
}
