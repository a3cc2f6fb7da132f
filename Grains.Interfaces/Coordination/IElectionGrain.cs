namespace OrleansCompute.Coordination;

/// <summary>
/// One election, keyed by <see cref="Tenancy.TenantKey.For"/>(tenant, name). The leader is the
/// candidate whose campaign was granted, with a token larger than every earlier leader's; it leads
/// until it resigns or its lease ends. Candidates are served first come, first served.
/// </summary>
[Alias("oc.IElectionGrain")]
public interface IElectionGrain : IGrainWithStringKey
{
    /// <summary>Campaigns for <paramref name="lease"/> with <paramref name="value"/> (JSON text), waiting up to <paramref name="wait"/>. Cancelling leaves the line.</summary>
    [Alias("Campaign"), ResponseTimeout("00:05:30")]
    Task<AcquireResult> CampaignAsync(string lease, string value, TimeSpan wait, CancellationToken cancellationToken = default);

    /// <summary>Replaces the leader's value, only while <paramref name="token"/> still leads.</summary>
    [Alias("Proclaim")]
    Task<ProclaimStatus> ProclaimAsync(long token, string value, CancellationToken cancellationToken = default);

    /// <summary>Gives up leadership held by <paramref name="token"/>; nothing when it does not lead (idempotent).</summary>
    [Alias("Resign")]
    Task ResignAsync(long token, CancellationToken cancellationToken = default);

    /// <summary>The leader, or null.</summary>
    [Alias("Get")]
    Task<LockHolder?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>The leader as it is now, then every change in order, until cancelled.</summary>
    [Alias("Observe")]
    IAsyncEnumerable<LeaderChange> ObserveAsync(CancellationToken cancellationToken = default);

    /// <summary><paramref name="lease"/> ended: it leads no more, and its campaigns leave the line. Idempotent.</summary>
    [Alias("LeaseEnded")]
    Task LeaseEndedAsync(string lease, CancellationToken cancellationToken = default);
}
