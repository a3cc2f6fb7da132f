using System.Globalization;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Data.Watch;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Data;

/// <summary>
/// Watch (SPEC §4.4): <c>GET /v1/tables/{table}/watch?prefix=&amp;fromRevision=</c> as Server-Sent
/// Events. <c>put</c> and <c>delete</c> events carry <c>{key, value, version, revision}</c>, and every
/// event's <c>id:</c> is a cursor to resume from with <c>Last-Event-ID</c>; <c>progress</c> events
/// come every <see cref="WatchLimits.ProgressInterval"/> with the cursor, so an idle client knows it
/// is current. See docs/coordination.md, "Watch".
/// </summary>
public static class WatchEndpoints
{
    public const string LastEventIdHeader = "Last-Event-ID";

    public static RouteGroupBuilder MapWatchEndpoints(this RouteGroupBuilder v1)
    {
        v1.MapGroup("/tables/{table}").WithTags("Keys").AddEndpointFilter<RouteNamesFilter>().AddEndpointFilter<GatewayLossFilter>()
            .MapGet("/watch", WatchAsync).RequireScope(Scopes.DataRead).WaitsBeyondTheRequestDeadline()
            .WithSummary("Server-Sent Events: put and delete events {key, value, version, revision} of the keys under ?prefix=, each with id: a resume cursor " +
                         "(send it back as Last-Event-ID), and progress events at least every 10 s. Without a cursor the stream starts now; ?fromRevision=N " +
                         "starts at revision N of every shard. 410 compacted when the cursor is older than the retained history.")
            .Produces<string>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status410Gone);
        return v1;
    }

    public static async Task<IResult> WatchAsync(
        string table, string? prefix, string? fromRevision, HttpContext http, TableClient data, IGrainFactory grains,
        ShardFeeds feeds, WatchSlots slots, IOptions<WatchLimits> limits, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        long? from = null;
        if (fromRevision is not null)
        {
            if (long.TryParse(fromRevision, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                from = parsed;
            }
            else
            {
                errors["fromRevision"] = [$"fromRevision must be a whole number from 0, a revision to start at; '{fromRevision}' is not."];
            }
        }

        if (prefix is { Length: > 0 } && KeyValueLimits.KeyError(prefix) is { } prefixError)
        {
            errors["prefix"] = [prefixError.Replace("A key", "A prefix", StringComparison.Ordinal)];
        }

        var lastEventId = http.Request.Headers[LastEventIdHeader];
        WatchCursor? cursor = null;
        if (lastEventId.Count > 0)
        {
            cursor = lastEventId.Count == 1 ? WatchCursor.Parse(lastEventId[0]) : null;
            if (cursor is null)
            {
                errors[LastEventIdHeader] = ["Last-Event-ID must be the id of an event this watch sent, unchanged."];
            }
            else if (from is not null)
            {
                errors["fromRevision"] = ["Give either fromRevision or Last-Event-ID, not both."];
            }
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var tenant = http.Tenant();
        if (await data.FindAsync(tenant, table, cancellationToken) is not { } info)
        {
            return Problems.TableNotFound(table);
        }

        var layout = cursor?.Layout ?? info.Id;
        var shards = WatchStream.ShardsOf(info, layout);
        if (cursor is not null && shards != cursor.After.Length)
        {
            // Not a layout of this table (another table's cursor, or one from before a drop), or not its shape.
            return shards == 0
                ? Problems.Invalid(LastEventIdHeader, $"Last-Event-ID is not a cursor of table '{table}' as it is now (it was dropped and created again, or the cursor belongs to another table).")
                : Problems.Invalid(LastEventIdHeader, "Last-Event-ID must be the id of an event this watch sent, unchanged.");
        }

        // The stream is exempt from the request deadline, its open is not: the slot's grain or a
        // shard behind a fault makes it a 503 within the answer bound, never a hang (docs/reliability.md).
        SlotTake take;
        using (var bounded = RequestDeadlines.BoundedWait(http, cancellationToken, TimeSpan.Zero))
        {
            take = await slots.TryTakeAsync(tenant, bounded.Token);
        }

        if (take.Slot is not { } slot)
        {
            return take.IsUnavailable
                ? Problems.SlotsUnavailable(http, "watch stream")
                : Problems.TooMany(http, ProblemTypes.TooManyRequests, "Too many watch streams",
                    $"A tenant may hold {slots.Limit} watch streams open at once; close one first.", retryAfterSeconds: 1);
        }

        // The slot is held until the stream ends: the result below runs inside this call.
        using var held = slot;
        var after = cursor?.After ?? (from is { } revision ? [.. Enumerable.Repeat(Math.Max(0, revision - 1), shards)] : null);
        WatchStream.Opening opening;
        using (var bounded = RequestDeadlines.BoundedWait(http, cancellationToken, TimeSpan.Zero))
        {
            opening = await WatchStream.OpenAsync(data, grains, feeds, limits.Value, tenant, info, prefix ?? "", layout, after, bounded.Token);
        }

        if (opening.NoChangeLog)
        {
            // The silos say so (TxnChangeFeedGrain): embedded mode's transactional storage (SQLite) keeps no change log.
            return Problems.Invalid("table", $"Table '{table}' is transactional: watch on transactional tables needs the PostgreSQL store, and this service runs embedded (SQLite).");
        }

        if (opening.Stream is not { } stream)
        {
            return Problems.Compacted(table, opening.Shard, opening.Cursor, opening.OldestRevision);
        }

        var result = TypedResults.ServerSentEvents(stream.EventsAsync(cancellationToken));
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await result.ExecuteAsync(http);
        return Results.Empty;
    }
}
