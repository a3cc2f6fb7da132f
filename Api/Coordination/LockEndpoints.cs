using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Coordination;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Coordination;

/// <summary>
/// Locks with fencing tokens (SPEC §4.4). Names may hold '/', so the routes take the rest of the
/// path. A waiter whose request is closed leaves the line: the request's cancellation reaches the lock grain.
/// Only an acquire that must wait takes a waiter slot (<see cref="WaitingLine"/>).
/// </summary>
public static class LockEndpoints
{
    public const int MaxWaitSeconds = 300;

    public static RouteGroupBuilder MapLockEndpoints(this RouteGroupBuilder v1)
    {
        // A waiter whose call went through a gateway that died is answered 503 at once, not after the response timeout.
        var locks = v1.MapGroup("/locks").WithTags("Locks").AddEndpointFilter<GatewayLossFilter>();
        // An acquire waits up to its waitSeconds: no request deadline (docs/reliability.md).
        locks.MapPost("/{**name}", AcquireAsync).RequireScope(Scopes.Coord).WaitsBeyondTheRequestDeadline()
            .WithSummary($"Acquire for a lease, waiting up to waitSeconds (0-{MaxWaitSeconds}; 0 tries once) first come, first served. 200 with a fencing token; 409 lock-held when not granted in time.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        locks.MapDelete("/{**name}", ReleaseAsync).RequireScope(Scopes.Coord)
            .WithSummary("Release the lock held by ?token=N: 204, also when that token released it already; 409 when another token holds it.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict);
        locks.MapGet("/{**name}", GetAsync).RequireScope(Scopes.Coord)
            .WithSummary("The holder (lease, token, acquiredAt) or null, and how many wait.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return v1;
    }

    public static async Task<Results<Ok<LockGrantResponse>, ValidationProblem, ProblemHttpResult>> AcquireAsync(
        string name, LockRequest? body, HttpContext http, IGrainFactory grains, WaiterSlots slots, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (!CoordinationNames.IsValid(name))
        {
            errors["name"] = [$"'{name}' is not a valid lock name: {CoordinationNames.Rule}."];
        }

        if (!LeaseIds.IsValid(body?.Lease))
        {
            errors["lease"] = ["lease is required: the id of a live lease, as POST /v1/leases returned it."];
        }

        if (body?.WaitSeconds is < 0 or > MaxWaitSeconds)
        {
            errors["waitSeconds"] = [$"waitSeconds must be a whole number of seconds from 0 to {MaxWaitSeconds}."];
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var wait = TimeSpan.FromSeconds(body!.WaitSeconds ?? 0);
        var (result, refused) = await WaitingLine.AcquireAsync(http, slots, wait, "lock acquires",
            (w, ct) => Lock(http, grains, name).AcquireAsync(body.Lease!, w, ct), cancellationToken);
        if (refused is not null)
        {
            return refused;
        }

        return result!.Status switch
        {
            AcquireStatus.Granted => TypedResults.Ok(new LockGrantResponse(name, result.Token, body.Lease!)),
            AcquireStatus.LeaseNotFound => LeaseEndpoints.NotFound(body.Lease!),
            _ => TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                type: ProblemTypes.LockHeld,
                title: "Lock held",
                detail: $"Lock '{name}' was not granted within {body.WaitSeconds ?? 0} s: another lease holds it."),
        };
    }

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ReleaseAsync(
        string name, long? token, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (!CoordinationNames.IsValid(name))
        {
            errors["name"] = [$"'{name}' is not a valid lock name: {CoordinationNames.Rule}."];
        }

        if (token is not > 0)
        {
            errors["token"] = ["token is required: the fencing token the acquire returned."];
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        return await Lock(http, grains, name).ReleaseAsync(token!.Value, cancellationToken) == ReleaseStatus.Released
            ? TypedResults.NoContent()
            : TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                type: ProblemTypes.LockHeld,
                title: "Not the holder",
                detail: $"Token {token} does not hold lock '{name}': another token holds it, or the lock never issued this one.");
    }

    public static async Task<Results<Ok<LockResponse>, ValidationProblem>> GetAsync(string name, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (!CoordinationNames.IsValid(name))
        {
            return Problems.Invalid("name", $"'{name}' is not a valid lock name: {CoordinationNames.Rule}.");
        }

        var view = await Lock(http, grains, name).GetAsync(cancellationToken);
        return TypedResults.Ok(new LockResponse(view.Holder is { } h ? new LockHolderResponse(h.Lease, h.Token, h.AcquiredAt) : null, view.Waiters));
    }

    private static ILockGrain Lock(HttpContext http, IGrainFactory grains, string name) =>
        grains.GetGrain<ILockGrain>(TenantKey.For(http.Tenant(), name));
}

/// <summary>The body of an acquire.</summary>
public sealed record LockRequest(string? Lease, int? WaitSeconds);

public sealed record LockGrantResponse(string Name, long Token, string Lease);

public sealed record LockHolderResponse(string Lease, long Token, DateTimeOffset AcquiredAt);

public sealed record LockResponse(LockHolderResponse? Holder, int Waiters);
