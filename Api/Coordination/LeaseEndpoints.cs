using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Coordination;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Coordination;

/// <summary>Leases (SPEC §4.4): grant, keepalive, get, revoke and list. The TTL is a lower bound; an ended lease is final.</summary>
public static class LeaseEndpoints
{
    public const int MinTtlSeconds = 2;
    public const int MaxTtlSeconds = 3600;

    public static RouteGroupBuilder MapLeaseEndpoints(this RouteGroupBuilder v1)
    {
        var leases = v1.MapGroup("/leases").WithTags("Leases").AddEndpointFilter<GatewayLossFilter>();
        leases.MapPost("/", GrantAsync).RequireScope(Scopes.Coord)
            .WithSummary($"Grant a lease of ttlSeconds ({MinTtlSeconds}-{MaxTtlSeconds}): it ends when that long passes without a keepalive.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        leases.MapGet("/", ListAsync).RequireScope(Scopes.Coord).WithSummary("List the tenant's live leases in id order.");
        leases.MapPost("/{id}/keepalive", KeepAliveAsync).RequireScope(Scopes.Coord)
            .WithSummary("Renew the lease to its TTL from now; 404 once it ended.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        leases.MapGet("/{id}", GetAsync).RequireScope(Scopes.Coord)
            .WithSummary("The lease, how long it has left and what is attached to it; 404 once it ended.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        leases.MapDelete("/{id}", RevokeAsync).RequireScope(Scopes.Coord)
            .WithSummary("Revoke: the lease ends now, and every lock and leadership it holds is released.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    public static async Task<Results<Created<LeaseGrantResponse>, ValidationProblem, ProblemHttpResult>> GrantAsync(
        LeaseRequest? body, HttpContext http, IGrainFactory grains, IOptions<CoordinationLimits> limits, CancellationToken cancellationToken)
    {
        if (body?.TtlSeconds is not { } ttl || ttl is < MinTtlSeconds or > MaxTtlSeconds)
        {
            return Problems.Invalid("ttlSeconds", $"ttlSeconds is required, a whole number of seconds from {MinTtlSeconds} to {MaxTtlSeconds}.");
        }

        // Ids are random and never reused: a collision (or a retried grant) tries a fresh one.
        for (var attempt = 0; ; attempt++)
        {
            var id = LeaseIds.New();
            var grant = await Lease(http, grains, id).GrantAsync(ttl, limits.Value.MaxLeasesPerTenant, cancellationToken);
            switch (grant.Status)
            {
                case LeaseGrantStatus.Granted:
                    return TypedResults.Created($"/v1/leases/{id}", new LeaseGrantResponse(id, ttl, grant.ExpiresAt));
                case LeaseGrantStatus.LimitReached:
                    return TypedResults.Problem(
                        statusCode: StatusCodes.Status429TooManyRequests,
                        type: ProblemTypes.QuotaExceeded,
                        title: "Too many leases",
                        detail: $"This tenant holds {limits.Value.MaxLeasesPerTenant} live leases, as many as it may. Revoke some, or let them expire.");
                case LeaseGrantStatus.Exists when attempt >= 3:
                    throw new InvalidOperationException("Could not find a free lease id.");
            }
        }
    }

    public static async Task<Results<Ok<KeepAliveResponse>, ProblemHttpResult>> KeepAliveAsync(string id, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken) =>
        LeaseIds.IsValid(id) && await Lease(http, grains, id).KeepAliveAsync(cancellationToken) is { } ttl
            ? TypedResults.Ok(new KeepAliveResponse(id, ttl))
            : NotFound(id);

    public static async Task<Results<Ok<LeaseResponse>, ProblemHttpResult>> GetAsync(string id, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken) =>
        LeaseIds.IsValid(id) && await Lease(http, grains, id).GetAsync(cancellationToken) is { } view
            ? TypedResults.Ok(LeaseResponse.From(view))
            : NotFound(id);

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(string id, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken) =>
        LeaseIds.IsValid(id) && await Lease(http, grains, id).RevokeAsync(cancellationToken)
            ? TypedResults.NoContent()
            : NotFound(id);

    public static async Task<Results<Ok<PageResponse<LeaseResponse>>, ValidationProblem>> ListAsync(
        int? limit, string? after, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        if (errors is not null)
        {
            return Problems.Invalid(errors);
        }

        var page = await grains.GetGrain<ILeaseCatalogGrain>(http.Tenant()).ListAsync(position, pageSize, cancellationToken);
        // A page holds at most Paging.MaxLimit ids, so this fan-out is bounded. A lease that ended meanwhile drops out.
        var views = await Task.WhenAll(page.Items.Select(id => Lease(http, grains, id).GetAsync(cancellationToken)));
        return TypedResults.Ok(new PageResponse<LeaseResponse>(views.OfType<LeaseView>().Select(LeaseResponse.From).ToList(), Paging.Encode(page.Next)));
    }

    public static ProblemHttpResult NotFound(string id) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        type: ProblemTypes.LeaseNotFound,
        title: "Lease not found",
        detail: $"There is no live lease '{id}': it ended (expired or revoked), or never existed.");

    private static ILeaseGrain Lease(HttpContext http, IGrainFactory grains, string id) =>
        grains.GetGrain<ILeaseGrain>(TenantKey.For(http.Tenant(), id));
}

/// <summary>The body of a grant.</summary>
public sealed record LeaseRequest(int? TtlSeconds);

public sealed record LeaseGrantResponse(string Id, int TtlSeconds, DateTimeOffset ExpiresAt);

public sealed record KeepAliveResponse(string Id, int TtlSeconds);

/// <summary>A lease and what ends with it: keys attached by <c>PUT .../keys/{key}?lease=</c>, locks it holds, elections it leads.</summary>
public sealed record LeaseResponse(string Id, int TtlSeconds, long RemainingMs, IReadOnlyList<LeaseKeyResponse> Keys, IReadOnlyList<string> Locks, IReadOnlyList<string> Elections)
{
    public static LeaseResponse From(LeaseView view) => new(
        view.Id,
        view.TtlSeconds,
        view.RemainingMs,
        [.. view.Items.Where(i => i.Kind == LeaseItem.KeyKind).Select(i => new LeaseKeyResponse(i.TableAndKey.Table, i.TableAndKey.Key))],
        [.. view.Items.Where(i => i.Kind == LeaseItem.LockKind).Select(i => i.Name)],
        [.. view.Items.Where(i => i.Kind == LeaseItem.ElectionKind).Select(i => i.Name)]);
}

public sealed record LeaseKeyResponse(string Table, string Key);

/// <summary>Per-tenant limits of coordination (configuration section <c>Coordination</c>).</summary>
public sealed class CoordinationLimits
{
    public int MaxLeasesPerTenant { get; set; } = 10_000;

    /// <summary>Acquires and campaigns one tenant may have waiting in line at once across all Api processes; more are answered 429. One that is granted at once never waits and is not counted.</summary>
    public int MaxWaitersPerTenant { get; set; } = 1_000;
}
