using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;
using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Data;

/// <summary>Tables (SPEC §4.1): create, reshard, describe, list and drop.</summary>
public static class TableEndpoints
{
    public static RouteGroupBuilder MapTableEndpoints(this RouteGroupBuilder v1)
    {
        var tables = v1.MapGroup("/tables").WithTags("Tables").AddEndpointFilter<RouteNamesFilter>().AddEndpointFilter<GatewayLossFilter>();
        tables.MapPut("/{table}", CreateAsync).RequireScope(Scopes.DataWrite)
            .WithSummary("Create a table: 201 when created, 200 when an identical table exists, 409 when a different one does.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        tables.MapPatch("/{table}", ReshardAsync).RequireScope(Scopes.DataWrite)
            .WithSummary("Reshard a table online: 202 while its keys move to the new shard count (a multiple or divisor of the current one); GET shows the progress.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        tables.MapGet("/", ListAsync).RequireScope(Scopes.DataRead).WithSummary("List tables in name order.");
        tables.MapGet("/{table}", DescribeAsync).RequireScope(Scopes.DataRead).WithSummary("Describe a table.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        tables.MapDelete("/{table}", DropAsync).RequireScope(Scopes.DataWrite).WithSummary("Drop a table with all its keys.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    public static async Task<Results<Created<TableResponse>, Ok<TableResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        string table, CreateTableRequest? body, HttpContext http, TableClient data, CancellationToken cancellationToken)
    {
        var request = body ?? new CreateTableRequest(null, null, null);
        var errors = new Dictionary<string, string[]>();
        var shards = request.Shards ?? TableSpec.DefaultShards;
        if (shards is < 1 or > TableSpec.MaxShards)
        {
            errors["shards"] = [$"shards must be between 1 and {TableSpec.MaxShards}."];
        }

        if (request is { Transactional: true, Encrypted: true })
        {
            // A transactional table's values are stored by the transaction state writer, which does not seal them:
            // refusing is honest, accepting would store them in the clear under a table that says "encrypted".
            errors["encrypted"] = ["encryption at rest is available for plain tables only, not for transactional ones."];
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var result = await data.Table(http.Tenant(), table)
            .CreateAsync(new TableSpec(request.Transactional ?? false, shards, request.Encrypted ?? false), cancellationToken);
        data.Forget(http.Tenant(), table);
        var response = TableResponse.From(result.Table);
        return result.Outcome switch
        {
            TableCreateOutcome.Created => TypedResults.Created($"/v1/tables/{table}", response),
            TableCreateOutcome.Identical => TypedResults.Ok(response),
            TableCreateOutcome.EncryptionNotConfigured => Problems.Invalid(
                "encrypted", "Encryption at rest is not configured on the silos (Encryption__ActiveKey and Encryption__Keys__<id>)."),
            _ => Problems.Conflict(
                "Table exists with a different definition",
                $"Table '{table}' exists with transactional={result.Table.Transactional}, shards={result.Table.Shards}, encrypted={result.Table.Encrypted}. Drop it first to change it."),
        };
    }

    public static async Task<Results<Accepted<TableResponse>, Ok<TableResponse>, ValidationProblem, ProblemHttpResult>> ReshardAsync(
        string table, ReshardRequest body, HttpContext http, TableClient data, CancellationToken cancellationToken)
    {
        if (body.Shards is not { } shards)
        {
            return Problems.Invalid("shards", "shards is required.");
        }

        if (shards is < 1 or > TableSpec.MaxShards)
        {
            return Problems.Invalid("shards", $"shards must be between 1 and {TableSpec.MaxShards}.");
        }

        var result = await data.Table(http.Tenant(), table).ReshardAsync(shards, cancellationToken);
        data.Forget(http.Tenant(), table);
        return result switch
        {
            { Outcome: ReshardOutcome.Started, Table: { } info } => TypedResults.Accepted($"/v1/tables/{table}", TableResponse.From(info)),
            { Outcome: ReshardOutcome.Unchanged, Table: { } info } => TypedResults.Ok(TableResponse.From(info)),
            { Outcome: ReshardOutcome.InProgress, Table: { } info } => Problems.Conflict(
                "Reshard in progress",
                $"Table '{table}' is already resharding from {info.Shards} to {info.Resharding!.To} shards; wait until GET shows no 'resharding', then ask again."),
            { Outcome: ReshardOutcome.NotAFactor, Table: { } info } => Problems.Invalid(
                "shards", $"A table reshards by splitting or merging its shards: {shards} must be a multiple or a divisor of its {info.Shards} shards."),
            { Outcome: ReshardOutcome.Transactional } => Problems.Invalid(
                "shards", $"Table '{table}' is transactional: each of its keys lives in a grain of its own, and its shard count only spreads the key index, so it cannot be resharded."),
            _ => Problems.TableNotFound(table),
        };
    }

    public static async Task<Results<Ok<TableResponse>, ProblemHttpResult>> DescribeAsync(
        string table, HttpContext http, TableClient data, CancellationToken cancellationToken)
    {
        var info = await data.Table(http.Tenant(), table).DescribeAsync(cancellationToken);
        return info is null
            ? Problems.TableNotFound(table)
            : TypedResults.Ok(TableResponse.From(info) with { KeyCount = await data.CountKeysAsync(http.Tenant(), info, cancellationToken) });
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DropAsync(
        string table, HttpContext http, TableClient data, CancellationToken cancellationToken)
    {
        data.Forget(http.Tenant(), table);
        return await data.Table(http.Tenant(), table).DropAsync(cancellationToken)
            ? TypedResults.NoContent()
            : Problems.TableNotFound(table);
    }

    public static async Task<Results<Ok<PageResponse<TableResponse>>, ValidationProblem>> ListAsync(
        int? limit, string? after, HttpContext http, IGrainFactory grains, TableClient data, CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        if (errors is not null)
        {
            return Problems.Invalid(errors);
        }

        var tenant = http.Tenant();
        var page = await grains.GetGrain<INameSetGrain>(NameSets.Tables(tenant)).ListAsync(position, pageSize, cancellationToken);
        // A page holds at most MaxLimit names, so this fan-out is bounded.
        var described = await Task.WhenAll(page.Items.Select(name =>
            data.Table(tenant, name).DescribeAsync(cancellationToken)));
        var items = described.OfType<TableInfo>().Select(TableResponse.From).ToList();
        return TypedResults.Ok(new PageResponse<TableResponse>(items, Paging.Encode(page.Next)));
    }
}

/// <summary>The body of <c>PUT /v1/tables/{table}</c>. Every field is optional; unknown fields are rejected.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateTableRequest(bool? Transactional, int? Shards, bool? Encrypted);

/// <summary>The body of <c>PATCH /v1/tables/{table}</c>: the new shard count.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ReshardRequest(int? Shards);

/// <summary>A reshard in progress: from and to shard counts, and the share of current shards already moved (0 to 1).</summary>
public sealed record ReshardingResponse(int From, int To, double Progress, DateTimeOffset StartedAt, string? Coordinator);

/// <summary>
/// A table as the Api shows it; <see cref="KeyCount"/> only when described on its own (it asks every
/// shard), <see cref="Resharding"/> only while it reshards.
/// </summary>
public sealed record TableResponse(
    string Name,
    bool Transactional,
    int Shards,
    bool Encrypted,
    DateTimeOffset CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? KeyCount = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ReshardingResponse? Resharding = null)
{
    public static TableResponse From(TableInfo info) => new(info.Name, info.Transactional, info.Shards, info.Encrypted, info.CreatedAt,
        Resharding: info.Resharding is { } r ? new ReshardingResponse(info.Shards, r.To, Math.Round((double)r.Moved.Count / info.Shards, 3), r.StartedAt, r.Coordinator) : null);
}
