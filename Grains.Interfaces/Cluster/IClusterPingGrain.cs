namespace OrleansCompute.Cluster;

/// <summary>
/// What the Api's probe asks to learn whether it can reach the cluster: a stateless worker, so it
/// answers on whichever silo the call reaches, and no single activation (a paused silo's) can make
/// the whole cluster look gone.
/// </summary>
public interface IClusterPingGrain : IGrainWithIntegerKey
{
    /// <summary>The active silos in the answering silo's view of the membership.</summary>
    Task<int> ActiveSilosAsync();
}
