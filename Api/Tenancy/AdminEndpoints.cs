using System.Diagnostics;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Security;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Tenancy;

/// <summary>Admin (SPEC §7): tenants and their API keys. Every call needs the <c>admin</c> scope and is audited.</summary>
public static partial class AdminEndpoints
{
    public static RouteGroupBuilder MapAdminEndpoints(this RouteGroupBuilder v1)
    {
        var admin = v1.MapGroup("/admin/tenants").WithTags("Admin").RequireScope(Scopes.Admin);
        admin.MapPost("/", CreateTenantAsync).WithSummary("Create a tenant.").ProducesProblem(StatusCodes.Status409Conflict);
        admin.MapGet("/", ListTenantsAsync).WithSummary("List tenants.");
        admin.MapPost("/{tenant}/keys", IssueKeyAsync)
            .WithSummary("Issue an API key for a tenant. The key is in this answer only; it is stored as a hash.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        admin.MapGet("/{tenant}/keys", ListKeysAsync).WithSummary("List a tenant's keys (never the keys themselves).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        admin.MapDelete("/{tenant}/keys/{id}", RevokeKeyAsync).WithSummary("Revoke a key; every Api instance refuses it within seconds.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    public static async Task<Results<Created<TenantInfo>, ValidationProblem, ProblemHttpResult>> CreateTenantAsync(
        CreateTenantRequest body, HttpContext http, IGrainFactory grains, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        if (body.Name is not { } name || !TableNames.IsValid(name))
        {
            return Problems.Invalid("name", $"'{body.Name}' is not a valid tenant name: {TableNames.Rule}.");
        }

        var tenant = grains.GetGrain<ITenantGrain>(name);
        if (!await tenant.CreateAsync(cancellationToken))
        {
            return Problems.Conflict("Tenant exists", $"Tenant '{name}' exists already.");
        }

        Audit(logs, http, "create-tenant", name, null);
        return TypedResults.Created($"/v1/admin/tenants/{name}", await tenant.GetAsync(cancellationToken));
    }

    public static async Task<Results<Ok<PageResponse<TenantInfo>>, ValidationProblem>> ListTenantsAsync(
        int? limit, string? after, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var (pageSize, position, errors) = Paging.Parse(limit, after);
        if (errors is not null)
        {
            return Problems.Invalid(errors);
        }

        var page = await grains.GetGrain<INameSetGrain>(NameSets.Tenants).ListAsync(position, pageSize, cancellationToken);
        // A page holds at most MaxLimit names, so this fan-out is bounded.
        var tenants = await Task.WhenAll(page.Items.Select(name => grains.GetGrain<ITenantGrain>(name).GetAsync(cancellationToken)));
        return TypedResults.Ok(new PageResponse<TenantInfo>([.. tenants.OfType<TenantInfo>()], Paging.Encode(page.Next)));
    }

    public static async Task<Results<Created<IssuedKey>, ValidationProblem, ProblemHttpResult>> IssueKeyAsync(
        string tenant, IssueKeyRequest body, HttpContext http, IGrainFactory grains, TimeProvider clock, ILoggerFactory logs,
        CancellationToken cancellationToken)
    {
        var scopes = body.Scopes ?? [];
        var unknown = scopes.Where(s => !Scopes.All.Contains(s)).ToList();
        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > 200)
        {
            return Problems.Invalid("name", "A key needs a name of 1 to 200 characters.");
        }

        if (scopes.Count == 0 || unknown.Count > 0)
        {
            return Problems.Invalid("scopes", $"scopes must be a non-empty list of: {string.Join(", ", Scopes.All)}.");
        }

        if (scopes.Contains(Scopes.Admin) && tenant != TenantKey.DefaultTenant)
        {
            return Problems.Invalid("scopes", "The admin scope acts across tenants; only keys of the default tenant may hold it.");
        }

        if (!TableNames.IsValid(tenant))
        {
            return TenantNotFound(tenant);
        }

        var (id, key, hash) = ApiKeys.Generate();
        var record = new ApiKeyRecord(id, tenant, body.Name, [.. scopes.Distinct()], hash, clock.GetUtcNow());
        var issued = await grains.GetGrain<ITenantGrain>(tenant).AddKeyAsync(record, cancellationToken);
        if (issued is null)
        {
            return TenantNotFound(tenant);
        }

        Audit(logs, http, "issue-key", tenant, id);
        return TypedResults.Created($"/v1/admin/tenants/{tenant}/keys/{id}", new IssuedKey(id, key, issued.Name, issued.Scopes));
    }

    public static async Task<Results<Ok<PageResponse<ApiKeyInfo>>, ProblemHttpResult>> ListKeysAsync(
        string tenant, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (!TableNames.IsValid(tenant))
        {
            return TenantNotFound(tenant);
        }

        var grain = grains.GetGrain<ITenantGrain>(tenant);
        if (await grain.GetAsync(cancellationToken) is null)
        {
            return TenantNotFound(tenant);
        }

        return TypedResults.Ok(new PageResponse<ApiKeyInfo>(await grain.ListKeysAsync(cancellationToken), null));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(
        string tenant, string id, HttpContext http, IGrainFactory grains, ApiKeyVerifier verifier, ILoggerFactory logs,
        CancellationToken cancellationToken)
    {
        if (!TableNames.IsValid(tenant) || !await grains.GetGrain<ITenantGrain>(tenant).RevokeKeyAsync(id, cancellationToken))
        {
            return Problems.NotFound("Key", $"Tenant '{tenant}' has no key '{id}'.");
        }

        verifier.Forget(id);
        Audit(logs, http, "revoke-key", tenant, id);
        return TypedResults.NoContent();
    }

    private static void Audit(ILoggerFactory logs, HttpContext http, string action, string tenant, string? keyId) =>
        LogAdminAction(logs.CreateLogger("OrleansCompute.Audit"), action, tenant, keyId,
            http.User.FindFirst(CallerIdentity.KeyIdClaim)?.Value, Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier);

    private static ProblemHttpResult TenantNotFound(string tenant) => Problems.NotFound("Tenant", $"There is no tenant '{tenant}'.");

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin {Action}: tenant {Tenant}, key {KeyId}, by key {ActorKeyId} (trace {TraceId})")]
    private static partial void LogAdminAction(ILogger logger, string action, string tenant, string? keyId, string? actorKeyId, string traceId);
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateTenantRequest(string? Name);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record IssueKeyRequest(string? Name, List<string>? Scopes);

/// <summary>A newly issued key. <see cref="Key"/> appears here only; it cannot be read again.</summary>
public sealed record IssuedKey(string Id, string Key, string Name, IReadOnlyList<string> Scopes);
