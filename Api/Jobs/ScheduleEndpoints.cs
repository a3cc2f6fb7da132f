using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Data;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Data;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Jobs;

/// <summary>Recurring jobs (SPEC §4.3): cron schedules with time zones, pause and resume, run now, and their runs.</summary>
public static class ScheduleEndpoints
{
    public static RouteGroupBuilder MapScheduleEndpoints(this RouteGroupBuilder v1)
    {
        var schedules = v1.MapGroup("/schedules").WithTags("Schedules").AddEndpointFilter<RouteNamesFilter>().AddEndpointFilter<GatewayLossFilter>();
        schedules.MapPut("/{name}", PutAsync).RequireScope(Scopes.Jobs)
            .WithSummary("Create or replace a schedule: 201 when created, 200 when replaced.");
        schedules.MapGet("/", ListAsync).RequireScope(Scopes.Jobs).WithSummary("List schedules in name order.");
        schedules.MapGet("/{name}", GetAsync).RequireScope(Scopes.Jobs).WithSummary("A schedule with nextRun, lastRun and lastJobId.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        schedules.MapDelete("/{name}", DeleteAsync).RequireScope(Scopes.Jobs).WithSummary("Delete a schedule (its jobs stay).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        schedules.MapPost("/{name}/pause", (string name, HttpContext http, IGrainFactory grains, CancellationToken ct) => SetPausedAsync(name, true, http, grains, ct))
            .RequireScope(Scopes.Jobs).WithSummary("Pause: the schedule fires nothing until resumed.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        schedules.MapPost("/{name}/resume", (string name, HttpContext http, IGrainFactory grains, CancellationToken ct) => SetPausedAsync(name, false, http, grains, ct))
            .RequireScope(Scopes.Jobs).WithSummary("Resume from now on (occurrences missed while paused do not fire).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        schedules.MapPost("/{name}/trigger", TriggerAsync).RequireScope(Scopes.Jobs)
            .WithSummary("Run now: submits the schedule's job once (paused or not); the cron occurrences stay as they were.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        schedules.MapGet("/{name}/runs", RunsAsync).RequireScope(Scopes.Jobs)
            .WithSummary("The jobs the schedule submitted (cron runs and triggers), newest first, with their status.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    public static async Task<Results<Accepted<JobAccepted>, ProblemHttpResult>> TriggerAsync(
        string name, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var result = await Schedule(http, grains, name).TriggerAsync(cancellationToken);
        return result.Outcome switch
        {
            SubmitOutcome.Created or SubmitOutcome.Existing => JobEndpoints.Accepted(http, result),
            SubmitOutcome.QuotaExceeded => JobEndpoints.QuotaExceeded(http),
            SubmitOutcome.NotFound => NotFound(name),
            // Its spec was checked when the schedule was put; a kind removed since makes it invalid now.
            _ => Problems.Conflict("The schedule's job cannot run", string.Join("; ", result.Errors.Select(e => $"job.{e.Field} {e.Message}"))),
        };
    }

    public static async Task<Results<Ok<PageResponse<JobSummaryResponse>>, ValidationProblem, ProblemHttpResult>> RunsAsync(
        string name, int? limit, string? after, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        if (errors is not null)
        {
            return Problems.Invalid(errors);
        }

        if (await Schedule(http, grains, name).GetAsync(cancellationToken) is null)
        {
            return NotFound(name);
        }

        return TypedResults.Ok(await JobEndpoints.PageAsync(http, grains, new JobFilter(Schedule: name), position, pageSize, cancellationToken));
    }

    public static async Task<Results<Created<ScheduleResponse>, Ok<ScheduleResponse>, ValidationProblem>> PutAsync(
        string name, ScheduleRequest? body, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body?.Cron))
        {
            errors["cron"] = ["is required, e.g. \"0 * * * *\" (hourly) or \"*/10 * * * * *\" (every 10 seconds)."];
        }

        if (body?.Job is null)
        {
            errors["job"] = ["is required: a job spec as for POST /v1/jobs."];
        }

        var (spec, jobErrors) = body?.Job?.ToSpec("job.") ?? (null, null);
        foreach (var (field, messages) in jobErrors ?? [])
        {
            errors[field] = messages;
        }

        if (errors.Count > 0 || spec is null)
        {
            return Problems.Invalid(errors);
        }

        var result = await Schedule(http, grains, name).PutAsync(new ScheduleSpec(body!.Cron!.Trim(), body.TimeZone ?? "UTC", spec), cancellationToken);
        if (result.Schedule is null)
        {
            return Problems.Invalid(result.Errors);
        }

        var response = ScheduleResponse.From(result.Schedule);
        return result.Created ? TypedResults.Created($"/v1/schedules/{name}", response) : TypedResults.Ok(response);
    }

    public static async Task<Results<Ok<ScheduleResponse>, ProblemHttpResult>> GetAsync(string name, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken) =>
        await Schedule(http, grains, name).GetAsync(cancellationToken) is { } view
            ? TypedResults.Ok(ScheduleResponse.From(view))
            : NotFound(name);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string name, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken) =>
        await Schedule(http, grains, name).DeleteAsync(cancellationToken) ? TypedResults.NoContent() : NotFound(name);

    public static async Task<Results<Ok<PageResponse<ScheduleResponse>>, ValidationProblem>> ListAsync(
        int? limit, string? after, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        if (errors is not null)
        {
            return Problems.Invalid(errors);
        }

        var page = await grains.GetGrain<INameSetGrain>(NameSets.Schedules(http.Tenant())).ListAsync(position, pageSize, cancellationToken);
        // A page holds at most MaxLimit names, so this fan-out is bounded.
        var views = await Task.WhenAll(page.Items.Select(n => Schedule(http, grains, n).GetAsync(cancellationToken)));
        return TypedResults.Ok(new PageResponse<ScheduleResponse>(views.OfType<ScheduleView>().Select(ScheduleResponse.From).ToList(), Paging.Encode(page.Next)));
    }

    private static async Task<Results<Ok<ScheduleResponse>, ProblemHttpResult>> SetPausedAsync(
        string name, bool paused, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken) =>
        await Schedule(http, grains, name).SetPausedAsync(paused, cancellationToken) is { } view
            ? TypedResults.Ok(ScheduleResponse.From(view))
            : NotFound(name);

    private static IScheduleGrain Schedule(HttpContext http, IGrainFactory grains, string name) =>
        grains.GetGrain<IScheduleGrain>(TenantKey.For(http.Tenant(), name));

    private static ProblemHttpResult NotFound(string name) => Problems.NotFound("Schedule", $"There is no schedule '{name}'.");
}
