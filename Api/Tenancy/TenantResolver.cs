using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Tenancy;

/// <summary>
/// The tenant a request acts for. It always comes from the caller's credentials, never from the
/// request's path, query or body. Until API keys exist every caller acts for the default tenant.
/// </summary>
public static class TenantResolver
{
    public static string Tenant(this HttpContext httpContext) => TenantKey.DefaultTenant;
}
