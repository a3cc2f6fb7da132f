using Orleans.Runtime;
using OrleansCompute.Data;
using OrleansCompute.Grains.Placement;

namespace OrleansCompute.Grains.Data.Placement;

/// <summary>Reports this silo's <see cref="LocalShards"/> and <see cref="SiloLease"/>; placed on the silo its key names.</summary>
[SiloBoundPlacement]
public sealed class ShardHostGrain(LocalShards local, SiloLease lease, ILocalSiloDetails silo) : Grain, IShardHostGrain
{
    public Task<ShardHostInfo> DescribeAsync(CancellationToken cancellationToken = default)
    {
        return Task.FromResult(new ShardHostInfo(Here(), local.Keys.Count, local.MovesInFlight, local.MovesCompleted, local.Draining));
    }

    public async Task<SiloLeaseReport> ReportLeaseAsync(TimeSpan patience, CancellationToken cancellationToken = default)
    {
        var here = Here();
        var valid = await lease.WaitValidAsync(patience);
        return new SiloLeaseReport(here, valid, lease.SinceRenewal);
    }

    public Task<bool> ReachesAsync(SiloAddress silo, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        DeadSiloEviction.AcceptsConnectionAsync(silo.Endpoint, timeout, cancellationToken);

    private string Here()
    {
        var here = silo.SiloAddress.ToParsableString();
        if (here != this.GetPrimaryKeyString())
        {
            // Placed here because the silo it names was not known yet (or is gone): try again next time.
            DeactivateOnIdle();
        }

        return here;
    }
}
