namespace OrleansCompute.Data;

/// <summary>
/// What one silo hosts of the sharded store, for <c>GET /v1/cluster</c>. Keyed by the silo's
/// address in parsable form; it lives on that silo.
/// </summary>
[Alias("oc.IShardHostGrain")]
public interface IShardHostGrain : IGrainWithStringKey
{
    /// <summary>The shards active on this silo and the moves it is running.</summary>
    [Alias("Describe"), AlwaysInterleave]
    Task<ShardHostInfo> DescribeAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// One silo's share of the sharded store. <see cref="Silo"/> is the silo that answered: when the
/// silo asked for is gone, another answers for itself, and the caller can tell.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.ShardHostInfo")]
public sealed record ShardHostInfo(string Silo, int Shards, int MovesInFlight, long MovesCompleted, bool Draining);
