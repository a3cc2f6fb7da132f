using Orleans.Runtime;

namespace OrleansCompute.Data;

/// <summary>
/// What one silo hosts of the sharded store, for <c>GET /v1/cluster</c>, and whether its shard
/// lease holds. Keyed by the silo's address in parsable form; it lives on that silo.
/// </summary>
[Alias("oc.IShardHostGrain")]
public interface IShardHostGrain : IGrainWithStringKey
{
    /// <summary>The shards active on this silo and the moves it is running.</summary>
    [Alias("Describe"), AlwaysInterleave]
    Task<ShardHostInfo> DescribeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// This silo's shard lease, after waiting up to <paramref name="patience"/> for it to be valid:
    /// a silo that just woke from a pause renews within that, one cut off from the store does not.
    /// </summary>
    [Alias("ReportLease"), AlwaysInterleave]
    Task<SiloLeaseReport> ReportLeaseAsync(TimeSpan patience, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether this silo can open a TCP connection to the silo endpoint of <paramref name="silo"/>
    /// within <paramref name="timeout"/>: the second opinion a silo asks for before it declares a
    /// peer cut off from the cluster.
    /// </summary>
    [Alias("Reaches"), AlwaysInterleave]
    Task<bool> ReachesAsync(SiloAddress silo, TimeSpan timeout, CancellationToken cancellationToken = default);
}

/// <summary>
/// One silo's share of the sharded store. <see cref="Silo"/> is the silo that answered: when the
/// silo asked for is gone, another answers for itself, and the caller can tell.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.ShardHostInfo")]
public sealed record ShardHostInfo(string Silo, int Shards, int MovesInFlight, long MovesCompleted, bool Draining);

/// <summary>
/// One silo's shard lease as it sees it: <see cref="Silo"/> answered (as in <see cref="ShardHostInfo"/>),
/// its lease is <see cref="Valid"/> or not, and its last renewal that landed was sent
/// <see cref="SinceRenewal"/> ago, by its own monotonic clock.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.SiloLeaseReport")]
public sealed record SiloLeaseReport(string Silo, bool Valid, TimeSpan SinceRenewal);
