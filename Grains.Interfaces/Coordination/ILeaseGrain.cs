namespace OrleansCompute.Coordination;

/// <summary>
/// One lease, keyed by <see cref="Tenancy.TenantKey.For"/>(tenant, id). The TTL is a lower bound:
/// the lease never ends sooner than its TTL after the last grant or keepalive it answered. An
/// ended lease is final. See docs/coordination.md for the expiry design and the failover bound.
/// </summary>
[Alias("oc.ILeaseGrain")]
public interface ILeaseGrain : IGrainWithStringKey
{
    /// <summary>Creates the lease with <paramref name="ttlSeconds"/>, if the tenant holds fewer than <paramref name="tenantLimit"/> live leases.</summary>
    [Alias("Grant")]
    Task<LeaseGrant> GrantAsync(int ttlSeconds, int tenantLimit, CancellationToken cancellationToken = default);

    /// <summary>Renews the lease to its TTL from now. Null once it ended (or never existed).</summary>
    [Alias("KeepAlive")]
    Task<int?> KeepAliveAsync(CancellationToken cancellationToken = default);

    /// <summary>The lease and what is attached to it; null once it ended.</summary>
    [Alias("Get")]
    Task<LeaseView?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Ends the lease now, releasing everything attached. False when it had ended already.</summary>
    [Alias("Revoke")]
    Task<bool> RevokeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Attaches <paramref name="item"/> durably, so it ends with the lease. False when the lease
    /// ended or is ending: the caller must not grant anything to it. Interleaves, because the
    /// lock that calls it may be the one a lease end is calling at the same time.
    /// </summary>
    [Alias("Attach"), AlwaysInterleave]
    Task<bool> AttachAsync(LeaseItem item, CancellationToken cancellationToken = default);

    /// <summary>Detaches <paramref name="item"/> (a lock released by its token). Interleaves, as <see cref="AttachAsync"/>.</summary>
    [Alias("Detach"), AlwaysInterleave]
    Task DetachAsync(LeaseItem item, CancellationToken cancellationToken = default);
}

/// <summary>The tenant's live leases, read from the store. Keyed by tenant; holds no state.</summary>
[Alias("oc.ILeaseCatalogGrain")]
public interface ILeaseCatalogGrain : IGrainWithStringKey
{
    /// <summary>Up to <paramref name="limit"/> live lease ids after <paramref name="after"/>, in id order.</summary>
    [Alias("List"), ReadOnly]
    Task<Data.Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default);
}
