namespace OrleansCompute.Cluster;

/// <summary>
/// What the Api's probe asks to learn whether it can reach the cluster: a stateless worker, so it
/// answers on whichever silo the call reaches, and no single activation (a paused silo's) can make
/// the whole cluster look gone.
/// </summary>
public interface IClusterPingGrain : IGrainWithIntegerKey
{
    /// <summary>The answering silo's view of the membership, and its mapping of the store's clock.</summary>
    Task<ClusterPing> PingAsync();
}

/// <summary>
/// A ping's answer: the active silos in the answering silo's membership view, and the store's time
/// now by that silo's <see cref="OrleansCompute.Deadlines.StoreClock"/> (never earlier than the
/// store's; null before the silo read it, or in embedded mode), from which the Api maps its own clock.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.ClusterPing")]
public sealed record ClusterPing([property: Id(0)] int ActiveSilos, [property: Id(1)] DateTime? StoreNow);
