using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Coordination;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Coordination;

/// <summary>
/// Leader election (SPEC §4.4). Names may hold '/', so each route takes the rest of the path and
/// its last segment names the action: <c>/v1/elections/{name}/campaign</c>, <c>/proclaim</c>,
/// <c>/resign</c>, <c>/observe</c>; a plain <c>GET /v1/elections/{name}</c> reads the leader.
/// </summary>
public static class ElectionEndpoints
{
    public static RouteGroupBuilder MapElectionEndpoints(this RouteGroupBuilder v1)
    {
        var elections = v1.MapGroup("/elections").WithTags("Elections").AddEndpointFilter<GatewayLossFilter>();
        // A campaign waits up to its waitSeconds and an observe streams: no request deadline (docs/reliability.md).
        elections.MapPost("/{**path}", PostAsync).RequireScope(Scopes.Coord).WaitsBeyondTheRequestDeadline()
            .WithSummary("POST {name}/campaign {lease, value, waitSeconds}: 200 {token, value} once leader, 409 on timeout. " +
                         "{name}/proclaim {token, value}: 200 while still leader, 409 not-leader. {name}/resign {token}: 204, idempotent.")
            .Produces<CampaignResponse>(StatusCodes.Status200OK)
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        elections.MapGet("/{**path}", GetAsync).RequireScope(Scopes.Coord).WaitsBeyondTheRequestDeadline()
            .WithSummary("GET {name}: {leader: {value, token, lease} or null}. GET {name}/observe: Server-Sent Events, the leader now and then every change in order.")
            .Produces<ElectionResponse>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return v1;
    }

    public static async Task<IResult> PostAsync(string path, JsonElement? body, HttpContext http, IGrainFactory grains, WaiterSlots slots, CancellationToken cancellationToken)
    {
        var (name, action) = Split(path);
        if (!CoordinationNames.IsValid(name) || action is not ("campaign" or "proclaim" or "resign"))
        {
            return Problems.Invalid("name", $"POST /v1/elections/{{name}}/campaign, /proclaim or /resign, where the name is {CoordinationNames.Rule}.");
        }

        if (body is not { ValueKind: JsonValueKind.Object } request)
        {
            return Problems.Invalid("body", "The body must be a JSON object.");
        }

        var election = grains.GetGrain<IElectionGrain>(TenantKey.For(http.Tenant(), name));
        switch (action)
        {
            case "campaign":
            {
                var errors = new Dictionary<string, string[]>();
                var lease = request.TryGetProperty("lease", out var l) && l.ValueKind == JsonValueKind.String ? l.GetString() : null;
                if (!LeaseIds.IsValid(lease))
                {
                    errors["lease"] = ["lease is required: the id of a live lease, as POST /v1/leases returned it."];
                }

                if (!request.TryGetProperty("value", out var value) || value.ValueKind == JsonValueKind.Undefined)
                {
                    errors["value"] = ["value is required: any JSON value, what the leader announces (e.g. its address)."];
                }

                int? wait = 0;
                if (request.TryGetProperty("waitSeconds", out var w) && !(w.ValueKind == JsonValueKind.Number && w.TryGetInt32(out var seconds) && (wait = seconds) is >= 0 and <= LockEndpoints.MaxWaitSeconds))
                {
                    errors["waitSeconds"] = [$"waitSeconds must be a whole number of seconds from 0 to {LockEndpoints.MaxWaitSeconds}."];
                }

                if (errors.Count > 0)
                {
                    return Problems.Invalid(errors);
                }

                var (result, refused) = await WaitingLine.AcquireAsync(http, slots, TimeSpan.FromSeconds(wait ?? 0), "acquires and campaigns",
                    (w, ct) => election.CampaignAsync(lease!, value.GetRawText(), w, ct), cancellationToken);
                if (refused is not null)
                {
                    return refused;
                }

                return result!.Status switch
                {
                    AcquireStatus.Granted => TypedResults.Ok(new CampaignResponse(result.Token, value)),
                    AcquireStatus.LeaseNotFound => LeaseEndpoints.NotFound(lease!),
                    _ => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, type: ProblemTypes.LockHeld, title: "Not elected",
                        detail: $"Election '{name}' was not won within {wait ?? 0} s: another candidate leads."),
                };
            }

            case "proclaim":
            {
                var errors = new Dictionary<string, string[]>();
                var token = Token(request, errors);
                if (!request.TryGetProperty("value", out var value))
                {
                    errors["value"] = ["value is required: any JSON value."];
                }

                if (errors.Count > 0)
                {
                    return Problems.Invalid(errors);
                }

                return await election.ProclaimAsync(token, value.GetRawText(), cancellationToken) == ProclaimStatus.Proclaimed
                    ? TypedResults.Ok(new CampaignResponse(token, value))
                    : TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, type: ProblemTypes.NotLeader, title: "Not the leader",
                        detail: $"Token {token} does not lead election '{name}' (any more): nothing changed.");
            }

            default:
            {
                var errors = new Dictionary<string, string[]>();
                var token = Token(request, errors);
                if (errors.Count > 0)
                {
                    return Problems.Invalid(errors);
                }

                await election.ResignAsync(token, cancellationToken);
                return TypedResults.NoContent();
            }
        }
    }

    public static async Task<IResult> GetAsync(string path, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var (name, action) = Split(path);
        var observe = action == "observe" && CoordinationNames.IsValid(name);
        if (!observe)
        {
            name = path;
        }

        if (!CoordinationNames.IsValid(name))
        {
            return Problems.Invalid("name", $"'{path}' is not a valid election name: {CoordinationNames.Rule}.");
        }

        var election = grains.GetGrain<IElectionGrain>(TenantKey.For(http.Tenant(), name));
        if (!observe)
        {
            return TypedResults.Ok(new ElectionResponse(Leader(await election.GetAsync(cancellationToken))));
        }

        return TypedResults.ServerSentEvents(Events(election, cancellationToken));
    }

    private static async IAsyncEnumerable<SseItem<ElectionResponse>> Events(IElectionGrain election, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var change in election.ObserveAsync(cancellationToken).WithCancellation(cancellationToken))
        {
            yield return new SseItem<ElectionResponse>(new ElectionResponse(Leader(change.Leader)), "leader") { EventId = change.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        }
    }

    private static LeaderResponse? Leader(LockHolder? holder) =>
        holder is null ? null : new LeaderResponse(JsonDocument.Parse(holder.Value ?? "null").RootElement, holder.Token, holder.Lease);

    private static long Token(JsonElement request, Dictionary<string, string[]> errors)
    {
        if (request.TryGetProperty("token", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out var token) && token > 0)
        {
            return token;
        }

        errors["token"] = ["token is required: the token the campaign returned."];
        return 0;
    }

    private static (string Name, string Action) Split(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash <= 0 ? (path, "") : (path[..slash], path[(slash + 1)..]);
    }
}

public sealed record CampaignResponse(long Token, JsonElement Value);

public sealed record LeaderResponse(JsonElement Value, long Token, string Lease);

public sealed record ElectionResponse(LeaderResponse? Leader);
