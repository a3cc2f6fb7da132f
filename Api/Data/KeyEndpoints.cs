using OrleansCompute.Api.Cluster;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Api.Transactions;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Data;

/// <summary>Keys of sharded tables (SPEC §4.1): put, get, delete, prefix scans and batches.</summary>
public static class KeyEndpoints
{
    public static RouteGroupBuilder MapKeyEndpoints(this RouteGroupBuilder v1)
    {
        var keys = v1.MapGroup("/tables/{table}").WithTags("Keys").AddEndpointFilter<GatewayLossFilter>();
        keys.MapGet("/keys", ScanAsync).RequireScope(Scopes.DataRead)
            .WithSummary("Live keys in code point order across all shards, with an optional prefix.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        // The body is read raw (any JSON value, kept byte for byte), so no content type is enforced.
        keys.MapPut("/keys/{**key}", PutAsync).RequireScope(Scopes.DataWrite)
            .WithSummary("Write a key; the body is any JSON value. 201 created or 200 replaced, ETag \"<version>\". If-Match: \"<version>\" or If-None-Match: * make it conditional; ?ttlSeconds=N makes it expire.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        keys.MapGet("/keys/{**key}", GetAsync).RequireScope(Scopes.DataRead)
            .Produces<JsonElement>(StatusCodes.Status200OK, "application/json")
            .WithSummary("The value exactly as written, with its ETag.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        keys.MapDelete("/keys/{**key}", DeleteAsync).RequireScope(Scopes.DataWrite)
            .WithSummary("Delete a key; If-Match makes it conditional.")
            .ProducesProblem(StatusCodes.Status404NotFound)
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
        string table, string key, int? ttlSeconds, HttpContext http, TableDirectory tables, IGrainFactory grains,
        IOptions<KeyValueLimits> limits, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        CheckNames(errors, table, key);
        if (ttlSeconds is { } ttl && (ttl < 1 || ttl > limits.Value.MaxTtlSeconds))
        {
            errors["ttlSeconds"] = [$"ttlSeconds must be between 1 and {limits.Value.MaxTtlSeconds}."];
        }

        var (ifVersion, ifExists, ifAbsent) = Conditions(http.Request, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        if (ttlSeconds is not null && await tables.FindAsync(http.Tenant(), table, cancellationToken) is { Transactional: true })
        {
            return Problems.Invalid("ttlSeconds", "Keys of transactional tables do not expire; ttlSeconds is not supported on them.");
        }

        var value = await ReadValueAsync(http.Request, limits.Value.MaxValueBytes, cancellationToken);
        if (value.Problem is { } problem)
        {
            return problem;
        }

        var result = await ExecuteAsync(http, tables, grains, table,
            new KvOp(KvOpKind.Put, key, value.Bytes, ifVersion, ifAbsent, ifExists, ttlSeconds), cancellationToken);
        SetETag(http, result);
        return result.Status switch
        {
            KvStatus.Created => TypedResults.Created($"/v1/tables/{table}/keys/{Uri.EscapeDataString(key)}", new KeyVersion(key, result.Version)),
            KvStatus.Ok => TypedResults.Ok(new KeyVersion(key, result.Version)),
            _ => Failure(result, table, key),
        };
    }

    public static async Task<Results<FileContentHttpResult, ValidationProblem, ProblemHttpResult>> GetAsync(
        string table, string key, HttpContext http, TableDirectory tables, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        CheckNames(errors, table, key);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var result = await ExecuteAsync(http, tables, grains, table, new KvOp(KvOpKind.Get, key), cancellationToken);
        if (result.Status != KvStatus.Ok)
        {
            return Failure(result, table, key);
        }

        SetETag(http, result);
        return TypedResults.Bytes(result.Value!, "application/json");
    }

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DeleteAsync(
        string table, string key, HttpContext http, TableDirectory tables, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        CheckNames(errors, table, key);
        var (ifVersion, ifExists, ifAbsent) = Conditions(http.Request, errors);
        if (ifAbsent)
        {
            errors[HeaderNames.IfNoneMatch] = ["If-None-Match applies to puts only."];
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var result = await ExecuteAsync(http, tables, grains, table,
            new KvOp(KvOpKind.Delete, key, IfVersion: ifVersion, IfExists: ifExists), cancellationToken);
        return result.Status == KvStatus.Deleted ? TypedResults.NoContent() : Failure(result, table, key);
    }

    public static async Task<Results<Ok<PageResponse<KeyItem>>, ValidationProblem, ProblemHttpResult>> ScanAsync(
        string table, string? prefix, int? limit, string? after, HttpContext http, TableDirectory tables, IGrainFactory grains,
        CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        errors ??= [];
        CheckNames(errors, table, key: null);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        // Every shard returns its first matches in order; the page is the smallest of their union.
        var tenant = http.Tenant();
        var pages = await tables.RunAsync(tenant, table,
            async info => info.Transactional
                ? [await TransactionalKeys.ScanAsync(grains, tenant, info, prefix ?? "", position, pageSize, cancellationToken)]
                : await Task.WhenAll(ShardMap.ShardKeysOf(tenant, info).Select(shard =>
                    grains.GetGrain<IShardGrain>(shard).ScanAsync(prefix ?? "", position, pageSize, cancellationToken))),
            answers => answers.Any(p => p.TableNotFound),
            cancellationToken,
            moved: answers => answers.Any(p => p.Moved));
        if (pages is null)
        {
            return Problems.TableNotFound(table);
        }

        var merged = pages.SelectMany(p => p.Items).OrderBy(i => i.Key, KeyOrder.Instance).ToList();
        var more = merged.Count > pageSize || pages.Any(p => p.More);
        var items = merged.Take(pageSize).Select(i => new KeyItem(i.Key, Parse(i.Value), i.Version)).ToList();
        return TypedResults.Ok(new PageResponse<KeyItem>(items, more && items.Count > 0 ? Paging.Encode(items[^1].Key) : null));
    }

    public static async Task<Results<Ok<BatchResponse>, ValidationProblem, ProblemHttpResult>> BatchAsync(
        string table, BatchRequest body, HttpContext http, TableDirectory tables, IGrainFactory grains,
        IOptions<KeyValueLimits> limits, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        CheckNames(errors, table, key: null);
        var ops = ParseBatch(body, limits.Value, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var tenant = http.Tenant();
        if (await tables.FindAsync(tenant, table, cancellationToken) is { Transactional: true })
        {
            return Problems.Invalid("ops", $"Table '{table}' is transactional: its keys change only in transactions. Use POST /v1/txn, which runs several operations atomically.");
        }

        var answers = await tables.RunAsync(tenant, table,
            info => ExecuteByShardAsync(grains, tables, tenant, table, info, ops, cancellationToken),
            results => results.Any(r => r.Status == KvStatus.TableNotFound),
            cancellationToken);
        return answers is null
            ? Problems.TableNotFound(table)
            : TypedResults.Ok(new BatchResponse([.. ops.Zip(answers, BatchResult.From)]));
    }

    // One call per shard, each carrying that shard's operations in request order; answers come back in
    // request order. A shard that refused its operations because it is handing over (a reshard) applied
    // none of them: only those are routed again, so no operation runs twice.
    private static async Task<KvResult[]> ExecuteByShardAsync(
        IGrainFactory grains, TableDirectory tables, string tenant, string table, TableInfo info, List<KvOp> ops, CancellationToken cancellationToken)
    {
        var results = new KvResult[ops.Count];
        var pending = Enumerable.Range(0, ops.Count).ToList();
        var handOver = new TableDirectory.HandOverWait();
        while (true)
        {
            var byShard = pending.GroupBy(index => ShardMap.ShardKeyFor(tenant, info, ops[index].Key)).ToList();
            var answers = await Task.WhenAll(byShard.Select(group =>
                grains.GetGrain<IShardGrain>(group.Key).ExecuteBatchAsync([.. group.Select(index => ops[index])], cancellationToken)));
            var moved = new List<int>();
            for (var g = 0; g < byShard.Count; g++)
            {
                var group = byShard[g].ToList();
                for (var i = 0; i < group.Count; i++)
                {
                    if (answers[g][i].Status == KvStatus.Moved)
                    {
                        moved.Add(group[i]);
                    }
                    else
                    {
                        results[group[i]] = answers[g][i];
                    }
                }
            }

            if (moved.Count == 0 || await NextOrGiveUpAsync(handOver, tables, tenant, table, moved.Count < ops.Count, cancellationToken) is not { } current)
            {
                foreach (var index in moved)
                {
                    results[index] = new KvResult(KvStatus.TableNotFound);
                }

                return results;
            }

            (pending, info) = (moved, current);
        }
    }

    // Past the hand-over patience some of the batch may have applied: then the answer must say so.
    private static async Task<TableInfo?> NextOrGiveUpAsync(
        TableDirectory.HandOverWait handOver, TableDirectory tables, string tenant, string table, bool someApplied, CancellationToken cancellationToken)
    {
        try
        {
            return await handOver.NextAsync(tables, tenant, table, cancellationToken);
        }
        catch (ShardUnavailableException ex) when (someApplied)
        {
            throw new ShardUnavailableException(ex.Message.Replace("nothing was changed", "the batch's other operations were applied", StringComparison.Ordinal), outcomeUnknown: true);
        }
    }

    public static async Task<Results<Ok<PageResponse<ShardInfo>>, ValidationProblem, ProblemHttpResult>> ShardsAsync(
        string table, HttpContext http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        CheckNames(errors, table, key: null);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        // Asked rarely, and must show the table as it is: no cache.
        var info = await grains.GetGrain<ITableGrain>(TenantKey.For(http.Tenant(), table)).DescribeAsync(cancellationToken);
        if (info is null)
        {
            return Problems.TableNotFound(table);
        }

        var shards = await DescribeShardsAsync(grains, http.Tenant(), info, cancellationToken);
        return TypedResults.Ok(new PageResponse<ShardInfo>(shards, null));
    }

    internal static Task<ShardInfo[]> DescribeShardsAsync(IGrainFactory grains, string tenant, TableInfo info, CancellationToken cancellationToken) =>
        Task.WhenAll(ShardMap.ShardKeysOf(tenant, info).Select(shard =>
            grains.GetGrain<IShardGrain>(shard).DescribeAsync(cancellationToken)));

    private static async Task<KvResult> ExecuteAsync(
        HttpContext http, TableDirectory tables, IGrainFactory grains, string table, KvOp op, CancellationToken cancellationToken)
    {
        var tenant = http.Tenant();
        return await tables.RunAsync(tenant, table,
                info => info.Transactional
                    ? TransactionalKeys.ExecuteAsync(grains, tenant, info, op, cancellationToken)
                    : grains.GetGrain<IShardGrain>(ShardMap.ShardKeyFor(tenant, info, op.Key)).ExecuteAsync(op, cancellationToken),
                result => result.Status == KvStatus.TableNotFound,
                cancellationToken,
                moved: result => result.Status == KvStatus.Moved)
            ?? new KvResult(KvStatus.TableNotFound);
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
            if (KeyValueLimits.KeyError(op.Key) is { } keyError)
            {
                errors[$"{field}.key"] = [keyError];
            }

            if (op.TtlSeconds is { } ttl && (ttl < 1 || ttl > limits.MaxTtlSeconds))
            {
                errors[$"{field}.ttlSeconds"] = [$"ttlSeconds must be between 1 and {limits.MaxTtlSeconds}."];
            }

            switch (op.Op)
            {
                case "get" or "delete" when op.Value.ValueKind != JsonValueKind.Undefined:
                    errors[$"{field}.value"] = [$"A {op.Op} takes no value."];
                    break;
                case "get":
                    ops.Add(new KvOp(KvOpKind.Get, op.Key!));
                    break;
                case "delete":
                    ops.Add(new KvOp(KvOpKind.Delete, op.Key!, IfVersion: op.IfVersion));
                    break;
                case "put" when op.Value.ValueKind == JsonValueKind.Undefined:
                    errors[$"{field}.value"] = ["A put needs a value (any JSON value, null included)."];
                    break;
                case "put":
                    var bytes = JsonSerializer.SerializeToUtf8Bytes(op.Value);
                    if (bytes.Length > limits.MaxValueBytes)
                    {
                        errors[$"{field}.value"] = [$"A value is at most {limits.MaxValueBytes} bytes; this one has {bytes.Length}."];
                    }

                    ops.Add(new KvOp(KvOpKind.Put, op.Key!, bytes, op.IfVersion, TtlSeconds: op.TtlSeconds));
                    break;
                default:
                    errors[$"{field}.op"] = [$"op must be get, put or delete, not '{op.Op}'."];
                    break;
            }
        }

        return ops;
    }

    private static void CheckNames(Dictionary<string, string[]> errors, string table, string? key)
    {
        TableEndpoints.AddNameError(errors, table);

        if (key is not null && KeyValueLimits.KeyError(key) is { } keyError)
        {
            errors["key"] = [keyError];
        }
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

    private static ProblemHttpResult Failure(KvResult result, string table, string key)
    {
        switch (result.Status)
        {
            case KvStatus.TableNotFound:
                return Problems.TableNotFound(table);
            case KvStatus.PreconditionFailed:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status412PreconditionFailed,
                    type: ProblemTypes.PreconditionFailed,
                    title: "Precondition failed",
                    detail: result.Version == 0
                        ? $"Key '{key}' does not exist, so the condition does not hold. Nothing was changed."
                        : $"Key '{key}' is at version {result.Version}, so the condition does not hold. Nothing was changed.",
                    extensions: new Dictionary<string, object?> { ["currentVersion"] = result.Version });
            default:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status404NotFound,
                    type: ProblemTypes.NotFound,
                    title: "Key not found",
                    detail: $"Table '{table}' has no key '{key}' (or it has expired).");
        }
    }

    private static void SetETag(HttpContext http, KvResult result)
    {
        if (result.Version > 0 && result.Status is KvStatus.Ok or KvStatus.Created)
        {
            http.Response.Headers.ETag = $"\"{result.Version}\"";
        }
    }

    internal static JsonElement Parse(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}

/// <summary>A key's version after a write.</summary>
public sealed record KeyVersion(string Key, long Version);

/// <summary>A key as a scan lists it.</summary>
public sealed record KeyItem(string Key, JsonElement Value, long Version);

/// <summary>The body of a batch: operations run in order, each on its own.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BatchRequest(List<BatchOp>? Ops);

/// <summary>One batch operation; <see cref="Value"/> is required for puts (JSON null is a value).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BatchOp(string? Op, string? Key, JsonElement Value, long? IfVersion, int? TtlSeconds);

/// <summary>The results of a batch, one per operation, in request order.</summary>
public sealed record BatchResponse(IReadOnlyList<BatchResult> Results);

/// <summary>
/// The outcome of one batch operation as the HTTP status it would have had on its own: 200, 201,
/// 204, 404 or 412, with the key's version and, for gets, its value.
/// </summary>
public sealed record BatchResult(
    string Op,
    string Key,
    int Status,
    long? Version,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] JsonElement Value)
{
    public static BatchResult From(KvOp op, KvResult result)
    {
        var name = op.Kind.ToString().ToLowerInvariant();
        var version = result.Version > 0 ? result.Version : (long?)null;
        return result.Status switch
        {
            KvStatus.Ok when op.Kind == KvOpKind.Get => new(name, op.Key, StatusCodes.Status200OK, version, KeyEndpoints.Parse(result.Value!)),
            KvStatus.Ok => new(name, op.Key, StatusCodes.Status200OK, version, default),
            KvStatus.Created => new(name, op.Key, StatusCodes.Status201Created, version, default),
            KvStatus.Deleted => new(name, op.Key, StatusCodes.Status204NoContent, version, default),
            KvStatus.PreconditionFailed => new(name, op.Key, StatusCodes.Status412PreconditionFailed, version, default),
            _ => new(name, op.Key, StatusCodes.Status404NotFound, null, default),
        };
    }
}
