namespace OrleansCompute.Coordination;

/// <summary>
/// One lock, keyed by <see cref="Tenancy.TenantKey.For"/>(tenant, name). At most one holder at a
/// time by the store's records; each grant carries a fencing token larger than every token the
/// lock issued before, across restarts and failovers. Waiters are served first come, first served.
/// </summary>
[Alias("oc.ILockGrain")]
public interface ILockGrain : IGrainWithStringKey
{
    /// <summary>
    /// Acquires the lock for <paramref name="lease"/>, waiting up to <paramref name="wait"/> in line
    /// (zero: only if it is free and nobody waits). Cancelling the call leaves the line.
    /// </summary>
    [Alias("Acquire"), ResponseTimeout("00:05:30")]
    Task<AcquireResult> AcquireAsync(string lease, TimeSpan wait, CancellationToken cancellationToken = default);

    /// <summary>Releases the lock held by <paramref name="token"/>; the next waiter gets it with a higher token.</summary>
    [Alias("Release")]
    Task<ReleaseStatus> ReleaseAsync(long token, CancellationToken cancellationToken = default);

    /// <summary>The holder and how many wait.</summary>
    [Alias("Get")]
    Task<LockView> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The highest token this lock has granted (0 when it never granted one). A token being granted
    /// but not yet durable is not counted. Fenced writes refuse tokens above it.
    /// </summary>
    [Alias("IssuedThrough")]
    Task<long> IssuedThroughAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// <paramref name="lease"/> ended: the lock is released if it holds it, and its waiters leave
    /// the line. Idempotent; the lease calls it until it succeeds.
    /// </summary>
    [Alias("LeaseEnded")]
    Task LeaseEndedAsync(string lease, CancellationToken cancellationToken = default);
}
