namespace OrleansCompute.Tenancy;

/// <summary>
/// An API key as stored: never the key itself, only the SHA-256 of its secret part. Keys carry
/// 256 random bits, so a fast hash is as strong as a slow one here, and verification stays cheap.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.ApiKeyRecord")]
public sealed record ApiKeyRecord(
    string Id,
    string Tenant,
    string Name,
    IReadOnlyList<string> Scopes,
    byte[] SecretHash,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt = null);

/// <summary>An API key as listed to admins: everything but the hash.</summary>
[GenerateSerializer, Immutable, Alias("oc.ApiKeyInfo")]
public sealed record ApiKeyInfo(string Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>A tenant.</summary>
[GenerateSerializer, Immutable, Alias("oc.TenantInfo")]
public sealed record TenantInfo(string Name, DateTimeOffset CreatedAt);
