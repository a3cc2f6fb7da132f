using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Coordination;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Coordination;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Data;

/// <summary>Keys of sharded tables (SPEC §4.1): put, get, delete, prefix scans and batches.</summary>
public static class KeyEndpoints
{
    public static RouteGroupBuilder MapKeyEndpoints(this RouteGroupBuilder v1)
    {
        var keys = v1.MapGroup("/tables/{table}").WithTags("Keys").AddEndpointFilter<RouteNamesFilter>().AddEndpointFilter<GatewayLossFilter>();
        keys.MapGet("/keys", ScanAsync).RequireScope(Scopes.DataRead)
            .WithSummary("Live keys in code point order across all shards, with an optional prefix.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        // The body is read raw (any JSON value, kept byte for byte), so no content type is enforced.
        keys.MapPut("/keys/{**key}", PutAsync).RequireScope(Scopes.DataWrite)
            .WithSummary("Write a key; the body is any JSON value. 201 created or 200 replaced, ETag \"<version>\". If-Match: \"<version>\" or If-None-Match: * make it conditional; ?ttlSeconds=N makes it expire; ?lease=<id> deletes it when the lease ends (404 lease-not-found for an ended lease); Fencing-Token: <lock>=<token> fences it (409 fenced for a stale token).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        keys.MapGet("/keys/{**key}", GetAsync).RequireScope(Scopes.DataRead)
            .Produces<JsonElement>(StatusCodes.Status200OK, "application/json")
            .WithSummary("The value exactly as written, with its ETag.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        keys.MapDelete("/keys/{**key}", DeleteAsync).RequireScope(Scopes.DataWrite)
            .WithSummary("Delete a key; If-Match makes it conditional; Fencing-Token: <lock>=<token> fences it (409 fenced for a stale token).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);
        keys.MapPost("/batch", BatchAsync).RequireScope(Scopes.DataWrite)
            .WithSummary("Run get, put and delete operations; each succeeds or fails on its own.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        keys.MapGet("/shards", ShardsAsync).RequireScope(Scopes.DataRead)
            .WithSummary("Each shard: its id, the silo that hosts it, and its key count.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    public static async Task<Results<Created<KeyVersion>, Ok<KeyVersion>, ValidationProblem, ProblemHttpResult>> PutAsync(
        string table, string key, int? ttlSeconds, string? lease, HttpContext http, TableClient data, IGrainFactory grains,
        IOptions<KeyValueLimits> limits, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (limits.Value.TtlError(ttlSeconds) is { } ttlError)
        {
            errors["ttlSeconds"] = [ttlError];
        }

        var (ifVersion, ifExists, ifAbsent) = Conditions(http.Request, errors);
        var fence = FencingToken(http.Request, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        if ((ttlSeconds is not null || lease is not null) && await data.FindAsync(http.Tenant(), table, cancellationToken) is { Transactional: true })
        {
            return ttlSeconds is not null
                ? Problems.Invalid("ttlSeconds", "Keys of transactional tables do not expire; ttlSeconds is not supported on them.")
                : Problems.Invalid("lease", "Keys of transactional tables cannot be attached to a lease.");
        }

        var value = await ReadValueAsync(http.Request, limits.Value.MaxValueBytes, cancellationToken);
        if (value.Problem is { } problem)
        {
            return problem;
        }

        // Attached before the write, so the lease's end, whenever it comes, deletes the key; a lease
        // that ended already refuses, and nothing is written.
        var leaseGrain = LeaseIds.IsValid(lease) ? grains.GetGrain<ILeaseGrain>(TenantKey.For(http.Tenant(), lease!)) : null;
        if (lease is not null && !(leaseGrain is not null && await leaseGrain.AttachAsync(LeaseItem.ForKey(table, key), cancellationToken)))
        {
            return LeaseEndpoints.NotFound(lease);
        }

        var answer = await data.ExecuteAsync(http.Tenant(), table,
            new KvOp(KvOpKind.Put, key, value.Bytes, ifVersion, ifAbsent, ifExists, ttlSeconds, fence), cancellationToken);
        if (Problems.Uncommitted(http, answer.Outcome, answer.Message) is { } failed)
        {
            return failed;
        }

        var result = answer.Value;
        if (leaseGrain is not null && result.Status is KvStatus.Created or KvStatus.Ok && await leaseGrain.GetAsync(cancellationToken) is null)
        {
            // The lease ended while the write ran: its end may have deleted the key before the write
            // landed. Undo the write (if nothing wrote after it) so an ended lease keeps nothing.
            await data.ExecuteAsync(http.Tenant(), table, new KvOp(KvOpKind.Delete, key, IfVersion: result.Version), CancellationToken.None);
            return LeaseEndpoints.NotFound(lease!);
        }

        SetETag(http, result);
        return result.Status switch
        {
            KvStatus.Created => TypedResults.Created($"/v1/tables/{table}/keys/{Uri.EscapeDataString(key)}", new KeyVersion(key, result.Version, result.Revision)),
            KvStatus.Ok => TypedResults.Ok(new KeyVersion(key, result.Version, result.Revision)),
            _ => Failure(result, table, key, fence),
        };
    }

    public static async Task<Results<FileContentHttpResult, ProblemHttpResult>> GetAsync(
        string table, string key, HttpContext http, TableClient data, CancellationToken cancellationToken)
    {
        var answer = await data.ExecuteAsync(http.Tenant(), table, new KvOp(KvOpKind.Get, key), cancellationToken);
        if (Problems.Uncommitted(http, answer.Outcome, answer.Message) is { } failed)
        {
            return failed;
        }

        if (answer.Value.Status != KvStatus.Ok)
        {
            return Failure(answer.Value, table, key);
        }

        SetETag(http, answer.Value);
        return TypedResults.Bytes(answer.Value.Value!, "application/json");
    }

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DeleteAsync(
        string table, string key, HttpContext http, TableClient data, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var (ifVersion, ifExists, ifAbsent) = Conditions(http.Request, errors);
        if (ifAbsent)
        {
            errors[HeaderNames.IfNoneMatch] = ["If-None-Match applies to puts only."];
        }

        var fence = FencingToken(http.Request, errors);

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var answer = await data.ExecuteAsync(http.Tenant(), table,
            new KvOp(KvOpKind.Delete, key, IfVersion: ifVersion, IfExists: ifExists, Fence: fence), cancellationToken);
        if (answer.Value is { Status: KvStatus.Deleted, Revision: > 0 } deleted)
        {
            http.Response.Headers[RevisionHeader] = deleted.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return Problems.Uncommitted(http, answer.Outcome, answer.Message) is { } failed ? failed
            : answer.Value.Status == KvStatus.Deleted ? TypedResults.NoContent()
            : Failure(answer.Value, table, key, fence);
    }

    public static async Task<Results<Ok<PageResponse<KeyItem>>, ValidationProblem, ProblemHttpResult>> ScanAsync(
        string table, string? prefix, int? limit, string? after, HttpContext http, TableClient data, CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        if (errors is not null)
        {
            return Problems.Invalid(errors);
        }

        if (await data.ScanAsync(http.Tenant(), table, prefix ?? "", position, pageSize, cancellationToken) is not { } answer)
        {
            return Problems.TableNotFound(table);
        }

        if (Problems.Uncommitted(http, answer.Outcome, answer.Message) is { } failed)
        {
            return failed;
        }

        var items = answer.Value.Items.Select(i => new KeyItem(i.Key, JsonValues.Parse(i.Value), i.Version, i.Revision)).ToList();
        return TypedResults.Ok(new PageResponse<KeyItem>(items, answer.Value.More && items.Count > 0 ? Paging.Encode(items[^1].Key) : null));
    }

    public static async Task<Results<Ok<BatchResponse>, ValidationProblem, ProblemHttpResult>> BatchAsync(
        string table, BatchRequest body, HttpContext http, TableClient data, IOptions<KeyValueLimits> limits, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var ops = ParseBatch(body, limits.Value, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var tenant = http.Tenant();
        if (await data.FindAsync(tenant, table, cancellationToken) is { Transactional: true })
        {
            return Problems.Invalid("ops", $"Table '{table}' is transactional: its keys change only in transactions. Use POST /v1/txn, which runs several operations atomically.");
        }

        return await data.BatchAsync(tenant, table, ops, cancellationToken) is { } results
            ? TypedResults.Ok(new BatchResponse([.. ops.Zip(results, BatchResult.From)]))
            : Problems.TableNotFound(table);
    }

    public static async Task<Results<Ok<PageResponse<ShardInfo>>, ProblemHttpResult>> ShardsAsync(
        string table, HttpContext http, TableClient data, CancellationToken cancellationToken)
    {
        // Asked rarely, and must show the table as it is: no cache.
        var info = await data.Table(http.Tenant(), table).DescribeAsync(cancellationToken);
        return info is null
            ? Problems.TableNotFound(table)
            : TypedResults.Ok(new PageResponse<ShardInfo>(await data.DescribeShardsAsync(http.Tenant(), info, cancellationToken), null));
    }

    private static List<KvOp> ParseBatch(BatchRequest body, KeyValueLimits limits, Dictionary<string, string[]> errors)
    {
        var ops = new List<KvOp>();
        if (body.Ops is not { Count: > 0 })
        {
            errors["ops"] = ["A batch needs at least one operation in \"ops\"."];
            return ops;
        }

        if (body.Ops.Count > limits.MaxBatchOps)
        {
            errors["ops"] = [$"A batch has at most {limits.MaxBatchOps} operations; this one has {body.Ops.Count}."];
            return ops;
        }

        for (var i = 0; i < body.Ops.Count; i++)
        {
            var op = body.Ops[i];
            var field = $"ops[{i}]";
            if (limits.TtlError(op.TtlSeconds) is { } ttlError)
            {
                errors[$"{field}.ttlSeconds"] = [ttlError];
            }

            var fence = OpRules.CheckFence(op.Op, op.Fence, field, errors);
            switch (OpRules.Check(op.Op, op.Key, op.Value, field, allowAdd: false, limits, errors))
            {
                case (OpRules.Kind.Get, _):
                    ops.Add(new KvOp(KvOpKind.Get, op.Key!));
                    break;
                case (OpRules.Kind.Delete, _):
                    ops.Add(new KvOp(KvOpKind.Delete, op.Key!, IfVersion: op.IfVersion, Fence: fence));
                    break;
                case (OpRules.Kind.Put, var value):
                    ops.Add(new KvOp(KvOpKind.Put, op.Key!, value, op.IfVersion, TtlSeconds: op.TtlSeconds, Fence: fence));
                    break;
            }
        }

        return ops;
    }

    // If-Match: "<version>" or *; If-None-Match: * (create only). Anything else is refused, not ignored.
    private static (long? IfVersion, bool IfExists, bool IfAbsent) Conditions(HttpRequest request, Dictionary<string, string[]> errors)
    {
        long? ifVersion = null;
        var ifExists = false;
        var ifAbsent = false;
        var ifMatch = request.Headers.IfMatch;
        if (ifMatch.Count > 0)
        {
            var text = ifMatch.ToString().Trim();
            if (text == "*")
            {
                ifExists = true;
            }
            else if (text.Length > 2 && text[0] == '"' && text[^1] == '"' && long.TryParse(text[1..^1], out var version) && version > 0)
            {
                ifVersion = version;
            }
            else
            {
                errors[HeaderNames.IfMatch] = ["If-Match must be a single version ETag such as \"3\", or *."];
            }
        }

        var ifNoneMatch = request.Headers.IfNoneMatch;
        if (ifNoneMatch.Count > 0)
        {
            if (ifNoneMatch.ToString().Trim() == "*")
            {
                ifAbsent = true;
            }
            else
            {
                errors[HeaderNames.IfNoneMatch] = ["If-None-Match supports only * (create if absent)."];
            }
        }

        return (ifVersion, ifExists, ifAbsent);
    }

    // Fencing-Token: <lock name>=<token>, the token a lock grant returned. The name cannot hold '='.
    private static KvFence? FencingToken(HttpRequest request, Dictionary<string, string[]> errors)
    {
        var header = request.Headers[FencingTokenHeader];
        if (header.Count == 0)
        {
            return null;
        }

        var text = header.ToString().Trim();
        var split = text.LastIndexOf('=');
        if (header.Count == 1 && split > 0 && OpRules.FenceError(text[..split], long.TryParse(text[(split + 1)..], out var token) ? token : 0) is null)
        {
            return new KvFence(text[..split], token);
        }

        errors[FencingTokenHeader] = [$"{FencingTokenHeader} must be <lock name>=<token>, one lock's name ({CoordinationNames.Rule}) and the token (a whole number from 1) its acquire returned, such as 'jobs/leader=7'."];
        return null;
    }

    public const string FencingTokenHeader = "Fencing-Token";

    /// <summary>On a GET or PUT answer: the revision of the key's last change in its shard, as watch events carry it.</summary>
    public const string RevisionHeader = "Revision";

    private static async Task<(byte[] Bytes, ProblemHttpResult? Problem)> ReadValueAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return ([], ValueTooLarge(request.ContentLength.Value, maxBytes));
        }

        byte[] bytes;
        if (request.ContentLength is { } length)
        {
            // The usual case: read straight into an array of the declared size, nothing to copy or pool.
            bytes = new byte[length];
            await request.Body.ReadExactlyAsync(bytes, cancellationToken);
        }
        else
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > maxBytes)
                {
                    return ([], ValueTooLarge(buffer.Length, maxBytes));
                }
            }

            bytes = buffer.ToArray();
        }

        return IsJson(bytes, out var error)
            ? (bytes, null)
            : ([], TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                type: ProblemTypes.BadRequest,
                title: "Value is not JSON",
                detail: bytes.Length == 0 ? "The body must be a JSON value." : $"The body must be a JSON value: {error}"));
    }

    // Validates without building a document: the value is stored as the exact bytes received.
    private static bool IsJson(byte[] bytes, out string? error)
    {
        error = null;
        try
        {
            var reader = new Utf8JsonReader(bytes);
            reader.Read();
            reader.Skip();
            if (reader.Read())
            {
                error = "there is more after the first JSON value.";
                return false;
            }

            return bytes.Length > 0;
        }
        catch (JsonException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    private static ProblemHttpResult ValueTooLarge(long size, int maxBytes) => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        type: ProblemTypes.BodyTooLarge,
        title: "Value too large",
        detail: $"A value is at most {maxBytes} bytes; this one has {size}.");

    private static ProblemHttpResult Failure(KvResult result, string table, string key, KvFence? fence = null) => result.Status switch
    {
        KvStatus.TableNotFound => Problems.TableNotFound(table),
        KvStatus.Fenced or KvStatus.FenceNotIssued => Problems.Fenced(key, fence!.Lock, fence.Token, result.Version, result.Status == KvStatus.FenceNotIssued),
        KvStatus.PreconditionFailed => Problems.PreconditionFailed(key, result.Version),
        _ => Problems.NotFound("Key", $"Table '{table}' has no key '{key}' (or it has expired)."),
    };

    private static void SetETag(HttpContext http, KvResult result)
    {
        if (result.Version > 0 && result.Status is KvStatus.Ok or KvStatus.Created)
        {
            http.Response.Headers.ETag = $"\"{result.Version}\"";
            if (result.Revision > 0)
            {
                // The revision of the key's last change in its shard (watch); absent for a key with none.
                http.Response.Headers[RevisionHeader] = result.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }
}

/// <summary>A key's version after a write, and the revision of that write in the key's shard (watch; absent when it has none).</summary>
public sealed record KeyVersion(
    string Key,
    long Version,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long Revision = 0);

/// <summary>A key as a scan lists it, with the revision of its last change (absent when it has none).</summary>
public sealed record KeyItem(
    string Key,
    JsonElement Value,
    long Version,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long Revision = 0);

/// <summary>The body of a batch: operations run in order, each on its own.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BatchRequest(List<BatchOp>? Ops);

/// <summary>
/// One batch operation; <see cref="Value"/> is required for puts (JSON null is a value).
/// <see cref="Fence"/> fences a put or delete: refused (409) when the lock wrote to the key with a higher token.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BatchOp(string? Op, string? Key, JsonElement Value, long? IfVersion, int? TtlSeconds, FenceRequest? Fence = null);

/// <summary>The results of a batch, one per operation, in request order.</summary>
public sealed record BatchResponse(IReadOnlyList<BatchResult> Results);

/// <summary>
/// The outcome of one batch operation as the HTTP status it would have had on its own: 200, 201,
/// 204, 404, 409 (fenced) or 412, with the key's version and, for gets, its value.
/// </summary>
public sealed record BatchResult(
    string Op,
    string Key,
    int Status,
    long? Version,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] JsonElement Value,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Revision = null)
{
    public static BatchResult From(KvOp op, KvResult result)
    {
        var name = op.Kind.ToString().ToLowerInvariant();
        var version = result.Version > 0 ? result.Version : (long?)null;
        var revision = result.Revision > 0 ? result.Revision : (long?)null;
        return result.Status switch
        {
            KvStatus.Ok when op.Kind == KvOpKind.Get => new(name, op.Key, StatusCodes.Status200OK, version, JsonValues.Parse(result.Value!), revision),
            KvStatus.Ok => new(name, op.Key, StatusCodes.Status200OK, version, default, revision),
            KvStatus.Created => new(name, op.Key, StatusCodes.Status201Created, version, default, revision),
            KvStatus.Deleted => new(name, op.Key, StatusCodes.Status204NoContent, version, default, revision),
            KvStatus.PreconditionFailed => new(name, op.Key, StatusCodes.Status412PreconditionFailed, version, default),
            KvStatus.Fenced or KvStatus.FenceNotIssued => new(name, op.Key, StatusCodes.Status409Conflict, null, default),
            _ => new(name, op.Key, StatusCodes.Status404NotFound, null, default),
        };
    }
}
