using System.Security.Claims;

namespace OrleansCompute.Api.Security;

/// <summary>Who is calling: the key, its tenant and its scopes, as claims on the request's user.</summary>
public sealed record CallerIdentity(string KeyId, string Tenant, IReadOnlyList<string> Scopes)
{
    public const string TenantClaim = "oc:tenant";
    public const string KeyIdClaim = "oc:key";
    public const string ScopeClaim = "oc:scope";

    public ClaimsPrincipal ToPrincipal(string scheme)
    {
        var claims = new List<Claim> { new(KeyIdClaim, KeyId), new(TenantClaim, Tenant), new(ClaimTypes.Name, KeyId) };
        claims.AddRange(Scopes.Select(scope => new Claim(ScopeClaim, scope)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }
}
