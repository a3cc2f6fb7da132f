namespace OrleansCompute.Tenancy;

/// <summary>One tenant and the list of its keys, keyed by tenant name. The default tenant always exists.</summary>
[Alias("oc.ITenantGrain")]
public interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>Creates the tenant. False when it exists already.</summary>
    [Alias("Create")]
    Task<bool> CreateAsync(CancellationToken cancellationToken = default);

    /// <summary>The tenant, or null when it does not exist.</summary>
    [Alias("Get"), ReadOnly]
    Task<TenantInfo?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Issues a key: stores its record and lists it. Null when the tenant does not exist.</summary>
    [Alias("AddKey")]
    Task<ApiKeyInfo?> AddKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>The tenant's keys, revoked ones included.</summary>
    [Alias("ListKeys"), ReadOnly]
    Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>Revokes one of the tenant's keys. False when the tenant has no such key.</summary>
    [Alias("RevokeKey")]
    Task<bool> RevokeKeyAsync(string keyId, CancellationToken cancellationToken = default);
}

