namespace OrleansCompute.Tenancy;

/// <summary>
/// One API key, keyed by its public id (the part of the key before the secret). Holds the hash
/// the Api verifies presented keys against.
/// </summary>
[Alias("oc.IApiKeyGrain")]
public interface IApiKeyGrain : IGrainWithStringKey
{
    /// <summary>Stores a new key. False when the id is taken; nothing changes then.</summary>
    [Alias("Create")]
    Task<bool> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>The key, or null when there is none.</summary>
    [Alias("Get"), ReadOnly]
    Task<ApiKeyRecord?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Revokes the key if it belongs to <paramref name="tenant"/>. False when it does not exist there.</summary>
    [Alias("Revoke")]
    Task<bool> RevokeAsync(string tenant, CancellationToken cancellationToken = default);
}
