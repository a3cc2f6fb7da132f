using OrleansCompute.Cluster;

namespace OrleansCompute.Grains.Cluster;

/// <summary>Answers the Api's probe from the local silo's membership view; see <see cref="IClusterPingGrain"/>.</summary>
[StatelessWorker]
public sealed class ClusterPingGrain(IClusterMembershipService membership) : Grain, IClusterPingGrain
{
    public Task<int> ActiveSilosAsync() =>
        Task.FromResult(membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active));
}
