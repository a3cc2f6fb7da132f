using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Errors;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Security;

/// <summary>
/// Turns a presented key into a caller. The bootstrap admin key is checked against its hash in
/// memory; other keys against their record, fetched from the key's grain and cached for a few
/// seconds, so a request costs no database or grain round trip, and a revocation reaches every Api
/// instance within <see cref="AuthOptions.KeyCacheSeconds"/>.
/// </summary>
public sealed class ApiKeyVerifier(IGrainFactory grains, ClusterConnection connection, TimeProvider clock, IOptions<AuthOptions> options)
{
    // A flood of made-up key ids must not grow the cache without bound.
    private const int MaxCachedKeys = 100_000;

    private readonly byte[]? _adminKeyHash = string.IsNullOrEmpty(options.Value.AdminKey) ? null : ApiKeys.Hash(options.Value.AdminKey);
    private readonly ConcurrentDictionary<string, (ApiKeyRecord? Record, DateTimeOffset FetchedAt)> _cache = new(StringComparer.Ordinal);

    /// <summary>The identity of the configured bootstrap admin key.</summary>
    public static readonly CallerIdentity BootstrapAdmin = new("admin", TenantKey.DefaultTenant, Scopes.All);

    /// <summary>
    /// The caller, or null with the reason when the key is not valid; the key id and tenant are
    /// given whenever they are known, for the audit log.
    /// </summary>
    public async ValueTask<(CallerIdentity? Caller, string? KeyId, string? Tenant, string? Failure)> VerifyAsync(string presented, CancellationToken cancellationToken)
    {
        if (_adminKeyHash is not null && ApiKeys.Matches(presented, _adminKeyHash))
        {
            return (BootstrapAdmin, BootstrapAdmin.KeyId, BootstrapAdmin.Tenant, null);
        }

        if (!ApiKeys.TryParse(presented, out var id, out var secret))
        {
            return (null, null, null, "The API key is malformed.");
        }

        var record = await FindAsync(id, cancellationToken);
        if (record is null || !ApiKeys.Matches(secret, record.SecretHash))
        {
            return (null, id, record?.Tenant, "The API key is not valid.");
        }

        return record.RevokedAt is null
            ? (new CallerIdentity(record.Id, record.Tenant, record.Scopes), id, record.Tenant, null)
            : (null, id, record.Tenant, "The API key has been revoked.");
    }

    /// <summary>Drops a cached key at once (after a revocation through this instance).</summary>
    public void Forget(string keyId) => _cache.TryRemove(keyId, out _);

    private async ValueTask<ApiKeyRecord?> FindAsync(string id, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(id, out var cached) && now - cached.FetchedAt < TimeSpan.FromSeconds(options.Value.KeyCacheSeconds))
        {
            return cached.Record;
        }

        if (!connection.IsConnected)
        {
            throw new ClusterUnavailableException("API keys cannot be checked while the cluster is unreachable.");
        }

        var record = await grains.GetGrain<IApiKeyGrain>(id).GetAsync(cancellationToken);
        if (_cache.Count >= MaxCachedKeys)
        {
            _cache.Clear();
        }

        _cache[id] = (record, now);
        return record;
    }
}
