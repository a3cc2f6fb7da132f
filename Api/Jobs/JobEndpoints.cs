using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Jobs;

/// <summary>Jobs (SPEC §4.3): submit, read, list, follow, cancel, pause, resume, retry and delete; and the task kinds.</summary>
public static class JobEndpoints
{
    private const int MaxIdempotencyKeyLength = 200;

    public static RouteGroupBuilder MapJobEndpoints(this RouteGroupBuilder v1)
    {
        var jobs = v1.MapGroup("/jobs").WithTags("Jobs").AddEndpointFilter<GatewayLossFilter>();
        jobs.MapPost("/", SubmitAsync).RequireScope(Scopes.Jobs)
            .WithSummary("Submit a job. The same Idempotency-Key returns the same job.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        jobs.MapGet("/", ListAsync).RequireScope(Scopes.Jobs)
            .WithSummary("List jobs, newest first, filtered by status, kind, schedule and creation time (createdAfter inclusive, createdBefore exclusive).");
        jobs.MapGet("/{id}", GetAsync).RequireScope(Scopes.Jobs).WithSummary("A job with its progress and, once done, its result.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        jobs.MapGet("/{id}/tasks", TasksAsync).RequireScope(Scopes.Jobs).WithSummary("The job's tasks in index order.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        jobs.MapGet("/{id}/events", EventsAsync).RequireScope(Scopes.Jobs).WaitsBeyondTheRequestDeadline()
            .WithSummary("Server-Sent Events: a 'progress' event at every change, then 'end' when the job ends.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        jobs.MapPost("/{id}/cancel", (string id, HttpContext http, IGrainFactory grains, CancellationToken ct) =>
                CommandAsync(id, http, grains, JobStatus.Cancelled, (job, c) => job.CancelAsync(c), ct))
            .RequireScope(Scopes.Jobs).WithSummary("Cancel: no new tasks start, running ones are told to stop.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapPost("/{id}/pause", (string id, HttpContext http, IGrainFactory grains, CancellationToken ct) =>
                CommandAsync(id, http, grains, JobStatus.Paused, (job, c) => job.PauseAsync(c), ct))
            .RequireScope(Scopes.Jobs).WithSummary("Pause: no new tasks start; running ones finish.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapPost("/{id}/resume", (string id, HttpContext http, IGrainFactory grains, CancellationToken ct) =>
                CommandAsync(id, http, grains, JobStatus.Running, (job, c) => job.ResumeAsync(c), ct))
            .RequireScope(Scopes.Jobs).WithSummary("Resume a paused job.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapPost("/{id}/retry", RetryAsync).RequireScope(Scopes.Jobs)
            .WithSummary("Run a failed or cancelled job again: a new job with the same spec, linked by retryOf. Every retry of one job answers the same new job.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapDelete("/{id}", DeleteAsync).RequireScope(Scopes.Jobs)
            .WithSummary("Delete an ended job and its tasks (409 while it is active: cancel it first).")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        v1.MapGet("/task-kinds", TaskKindsAsync).WithTags("Jobs").RequireScope(Scopes.Jobs)
            .WithSummary("Every task kind with its description and the JSON Schema of its input.");
        return v1;
    }

    public static async Task<Results<Accepted<JobAccepted>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        JobRequest? body, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return Problems.Invalid("body", "A job spec is required.");
        }

        if (idempotencyKey is not null && (idempotencyKey.Length is 0 or > MaxIdempotencyKeyLength || !idempotencyKey.All(c => c is >= ' ' and <= '~')))
        {
            return Problems.Invalid("Idempotency-Key", $"must be 1 to {MaxIdempotencyKeyLength} printable ASCII characters.");
        }

        if (idempotencyKey is not null && JobOrigins.IsReserved(idempotencyKey))
        {
            return Problems.Invalid("Idempotency-Key", "must not begin with 'schedule/' or 'retry/': those keys link jobs to their schedule or their retried job.");
        }

        var (spec, errors) = body.ToSpec();
        if (spec is null)
        {
            return Problems.Invalid(errors!);
        }

        var result = await grains.GetGrain<ITenantJobsGrain>(http.Tenant()).SubmitAsync(spec, idempotencyKey, cancellationToken);
        switch (result.Outcome)
        {
            case SubmitOutcome.Created:
            case SubmitOutcome.Existing:
                if (result.Outcome == SubmitOutcome.Existing)
                {
                    http.Response.Headers["Idempotent-Replayed"] = "true";
                }

                return Accepted(http, result);
            case SubmitOutcome.Invalid:
                return Problems.Invalid(result.Errors);
            case SubmitOutcome.IdempotencyKeyReused:
                return Problems.Conflict(
                    "Idempotency key reused",
                    $"This Idempotency-Key created job {result.JobId} from a different spec. Use a new key for a new job.");
            default:
                return QuotaExceeded(http);
        }
    }

    /// <summary>202 with the job a submission made or found (a replay says so in Idempotent-Replayed).</summary>
    public static Accepted<JobAccepted> Accepted(HttpContext http, SubmitResult result)
    {
        if (result.Outcome == SubmitOutcome.Existing)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }

        return TypedResults.Accepted($"/v1/jobs/{result.JobId}", new JobAccepted(result.JobId!, result.Status.Name()));
    }

    public static ProblemHttpResult QuotaExceeded(HttpContext http) => Problems.TooMany(http, ProblemTypes.QuotaExceeded,
        "Too many active jobs",
        "The tenant has as many queued, running and paused jobs as its quota (Jobs__MaxActiveJobsPerTenant) allows. Retry when some have ended.",
        retryAfterSeconds: 30);

    public static async Task<Results<Accepted<JobAccepted>, ProblemHttpResult>> RetryAsync(string id, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (!JobIds.IsValid(id))
        {
            return NotFound(id);
        }

        var result = await grains.GetGrain<ITenantJobsGrain>(http.Tenant()).RetryAsync(id, cancellationToken);
        return result.Outcome switch
        {
            SubmitOutcome.Created or SubmitOutcome.Existing => Accepted(http, result),
            SubmitOutcome.NotRetryable => Problems.Conflict("Not possible in the job's state", $"Job {id} is {result.Status.Name()}; only failed and cancelled jobs can be retried."),
            SubmitOutcome.QuotaExceeded => QuotaExceeded(http),
            SubmitOutcome.NotFound => NotFound(id),
            // The old job's spec was valid when it was submitted; a kind removed since makes it invalid now.
            _ => Problems.Conflict("The job cannot run again", $"Job {id}'s spec is no longer accepted: {string.Join("; ", result.Errors.Select(e => $"{e.Field} {e.Message}"))}"),
        };
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var outcome = JobIds.IsValid(id) ? await Job(http, grains, id).DeleteAsync(cancellationToken) : JobDeleteOutcome.NotFound;
        return outcome switch
        {
            JobDeleteOutcome.Deleted => TypedResults.NoContent(),
            JobDeleteOutcome.Active => Problems.Conflict("Not possible in the job's state", $"Job {id} has not ended; cancel it first."),
            _ => NotFound(id),
        };
    }

    public static async Task<Results<Ok<JobResponse>, ProblemHttpResult>> GetAsync(string id, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken) =>
        await FindAsync(id, http, grains, cancellationToken) is { } view ? TypedResults.Ok(JobResponse.From(view)) : NotFound(id);

    public static async Task<Results<Ok<PageResponse<TaskResponse>>, ValidationProblem, ProblemHttpResult>> TasksAsync(
        string id, int? limit, string? after, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        var start = -1;
        if (errors is null && position is not null && !int.TryParse(position, out start))
        {
            errors = new() { ["after"] = ["after is not a cursor returned by this list."] };
        }

        if (errors is not null)
        {
            return Problems.Invalid(errors);
        }

        var tasks = JobIds.IsValid(id) ? await Job(http, grains, id).GetTasksAsync(start, pageSize + 1, cancellationToken) : null;
        if (tasks is null)
        {
            return NotFound(id);
        }

        var page = tasks.Take(pageSize).Select(TaskResponse.From).ToList();
        var next = tasks.Count > pageSize ? Paging.Encode(page[^1].Index.ToString(System.Globalization.CultureInfo.InvariantCulture)) : null;
        return TypedResults.Ok(new PageResponse<TaskResponse>(page, next));
    }

    public static async Task<Results<ServerSentEventsResult<JobResponse>, ProblemHttpResult>> EventsAsync(
        string id, HttpContext http, IGrainFactory grains, ClusterConnection connection, IOptions<RequestDeadlineOptions> deadlines, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var first = await FindAsync(id, http, grains, cancellationToken);
        // The stream runs after this handler returned, when the filter's token is gone: it ends with the request, and rides out faults itself.
        return first is null
            ? NotFound(id)
            : TypedResults.ServerSentEvents(JobEventStream.Follow(Job(http, grains, id), first, deadlines.Value.LongPollWait, connection, loggers.CreateLogger(typeof(JobEventStream)), http.RequestAborted));
    }

    public static async Task<Results<Ok<PageResponse<JobSummaryResponse>>, ValidationProblem>> ListAsync(
        string? status, string? kind, string? schedule, string? createdAfter, string? createdBefore, int? limit, string? after,
        HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        var (filter, filterErrors) = await JobListFilter.ParseAsync(status, kind, schedule, createdAfter, createdBefore, grains, cancellationToken);
        if (errors is not null || filterErrors is not null)
        {
            return Problems.Invalid(new Dictionary<string, string[]>((errors ?? []).Concat(filterErrors ?? [])));
        }

        return TypedResults.Ok(await PageAsync(http, grains, filter!, position, pageSize, cancellationToken));
    }

    /// <summary>A page of the tenant's jobs, newest first.</summary>
    public static async Task<PageResponse<JobSummaryResponse>> PageAsync(
        HttpContext http, IGrainFactory grains, JobFilter filter, string? position, int pageSize, CancellationToken cancellationToken)
    {
        var jobs = await grains.GetGrain<ITenantJobsGrain>(http.Tenant()).ListAsync(filter, position, pageSize + 1, cancellationToken);
        var page = jobs.Take(pageSize).Select(JobSummaryResponse.From).ToList();
        return new PageResponse<JobSummaryResponse>(page, jobs.Count > pageSize ? Paging.Encode(page[^1].Id) : null);
    }

    // The kinds are few and registered in code: one page holds them all, in the shape of every list.
    public static async Task<Ok<PageResponse<TaskKindResponse>>> TaskKindsAsync(IGrainFactory grains, CancellationToken cancellationToken)
    {
        var kinds = await grains.GetGrain<ITaskKindCatalogGrain>(0).ListAsync(cancellationToken);
        return TypedResults.Ok(new PageResponse<TaskKindResponse>(
            [.. kinds.OrderBy(k => k.Name, StringComparer.Ordinal).Select(k => new TaskKindResponse(k.Name, k.Description, JsonNode.Parse(k.InputSchema)!))], null));
    }

    /// <summary>Runs a state change; 202 when the job is (now) in <paramref name="wanted"/>, 409 when its state forbids it.</summary>
    private static async Task<Results<Accepted<JobResponse>, ProblemHttpResult>> CommandAsync(
        string id, HttpContext http, IGrainFactory grains, JobStatus wanted, Func<IJobGrain, CancellationToken, Task<JobView?>> command, CancellationToken cancellationToken)
    {
        if (!JobIds.IsValid(id) || await command(Job(http, grains, id), cancellationToken) is not { } view)
        {
            return NotFound(id);
        }

        return view.Status == wanted
            ? TypedResults.Accepted($"/v1/jobs/{id}", JobResponse.From(view))
            : Problems.Conflict("Not possible in the job's state", $"Job {id} is {view.Status.Name()}.");
    }

    private static async Task<JobView?> FindAsync(string id, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken) =>
        JobIds.IsValid(id) ? await Job(http, grains, id).GetAsync(cancellationToken) : null;

    private static IJobGrain Job(HttpContext http, IGrainFactory grains, string id) =>
        grains.GetGrain<IJobGrain>(TenantKey.For(http.Tenant(), id));

    private static ProblemHttpResult NotFound(string id) => Problems.NotFound("Job", $"There is no job '{id}'.");
}
