using OrleansCompute.Api.Security;

namespace OrleansCompute.Api.Tenancy;

/// <summary>
/// The tenant a request acts for. It always comes from the caller's API key, never from the
/// request's path, query or body.
/// </summary>
public static class TenantResolver
{
    public static string Tenant(this HttpContext httpContext) =>
        httpContext.User.FindFirst(CallerIdentity.TenantClaim)?.Value
        ?? throw new InvalidOperationException("A tenant-scoped endpoint ran without an authenticated caller.");
}
