using OrleansCompute.Api.Cluster;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Data;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;
using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Transactions;

/// <summary>Transactions across keys, shards, tables and silos (SPEC §4.2): <c>POST /v1/txn</c>.</summary>
public static class TxnEndpoints
{
    public static RouteGroupBuilder MapTxnEndpoints(this RouteGroupBuilder v1)
    {
        // data:read lets a caller in; a transaction that can write also needs data:write (checked in the handler).
        v1.MapPost("/txn", RunAsync).RequireScope(Scopes.DataRead).WithTags("Transactions").AddEndpointFilter<GatewayLossFilter>()
            .WithSummary("Compare, then run the success or the failure branch, all in one serializable transaction over transactional tables.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return v1;
    }

    public static async Task<Results<Ok<TxnResponse>, ValidationProblem, ProblemHttpResult, ForbidHttpResult>> RunAsync(
        TxnBody body, HttpContext http, TableClient data, TransactionClient transactions,
        IOptions<TransactionLimits> limits, IOptions<KeyValueLimits> keyLimits, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var parsed = TxnParser.Parse(body, limits.Value, keyLimits.Value, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        if (parsed.Writes && !http.User.HasClaim(CallerIdentity.ScopeClaim, Scopes.DataWrite))
        {
            return TypedResults.Forbid();
        }

        // Tables are looked up in the caller's tenant only: another tenant's table is simply not found.
        var tenant = http.Tenant();
        var found = new Dictionary<string, TableInfo>(StringComparer.Ordinal);
        foreach (var (table, field) in parsed.Tables)
        {
            var info = await data.FindAsync(tenant, table, cancellationToken);
            if (info is null)
            {
                return Problems.TableNotFound(table);
            }

            if (!info.Transactional)
            {
                return Problems.Invalid(field,
                    $"Table '{table}' is not transactional; transactions take part only in tables created with \"transactional\": true.");
            }

            found[table] = info;
        }

        var request = parsed.Build((table, key) => new TxnKeyRef(table, key, TxnKeys.KeyGrain(tenant, found[table], key)));
        var result = await transactions.RunAsync(request, parsed.Writes, cancellationToken);
        if (result.Outcome == TxnOutcome.Rejected)
        {
            var branch = result.Succeeded ? "success" : "failure";
            return Problems.Invalid($"{branch}[{result.OpIndex}]", result.Message ?? "The operation could not apply; nothing was changed.");
        }

        if (result.Outcome == TxnOutcome.Fenced)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                type: ProblemTypes.Fenced,
                title: "Fenced",
                detail: result.Message,
                extensions: new Dictionary<string, object?> { ["op"] = $"{(result.Succeeded ? "success" : "failure")}[{result.OpIndex}]" });
        }

        if (Problems.Uncommitted(http, result.Outcome, result.Message) is { } failed)
        {
            return failed;
        }

        var ops = result.Succeeded ? request.Success : request.Failure;
        return TypedResults.Ok(new TxnResponse(result.Succeeded, [.. ops.Zip(result.Results, TxnOpResult.From)]));
    }
}

/// <summary>The body of <c>POST /v1/txn</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record TxnBody(List<TxnCompareBody>? Compare, List<TxnOpBody>? Success, List<TxnOpBody>? Failure);

/// <summary>One compare: <c>target</c> is value, version or exists; <c>op</c> is one of == != &gt; &gt;= &lt; &lt;=.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record TxnCompareBody(string? Table, string? Key, string? Target, string? Op, JsonElement Value);

/// <summary>
/// One operation: get, put, delete or add; put takes any JSON value, add a JSON number. A write's
/// <see cref="Fence"/> refuses the whole transaction (409 fenced) when the lock wrote to the key with a higher token.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record TxnOpBody(string? Op, string? Table, string? Key, JsonElement Value, FenceRequest? Fence = null);

/// <summary>Which branch ran, and one result per operation of it.</summary>
public sealed record TxnResponse(bool Succeeded, IReadOnlyList<TxnOpResult> Results);

/// <summary>
/// A key after an operation: its value (null when absent) and version (0 when absent). A delete
/// answers the key as it was before. <c>revision</c> is that of the key's last change as the
/// operation left it (for a write, the write's own; for a delete, the delete's), as watch shows it;
/// absent when there is none.
/// </summary>
public sealed record TxnOpResult(
    string Op,
    string Table,
    string Key,
    JsonElement? Value,
    long Version,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long Revision = 0)
{
    public static TxnOpResult From(TxnOp op, TxnKeyValue key) => new(
        op.Kind.ToString().ToLowerInvariant(), op.Key.Table, op.Key.Key,
        key.Value is null ? null : JsonValues.Parse(key.Value), key.Version, key.Revision ?? 0);
}
