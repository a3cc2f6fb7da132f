using System.Diagnostics;
using OrleansCompute.Cluster;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Grains.Cluster;

/// <summary>Answers the Api's probe from the local silo's membership view and store clock; see <see cref="IClusterPingGrain"/>.</summary>
[StatelessWorker]
public sealed class ClusterPingGrain(IClusterMembershipService membership, StoreClock storeClock) : Grain, IClusterPingGrain
{
    public Task<ClusterPing> PingAsync() => Task.FromResult(new ClusterPing(
        membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active),
        storeClock.StoreTimeAt(Stopwatch.GetTimestamp())));
}
