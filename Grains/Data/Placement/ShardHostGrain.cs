using Orleans.Runtime;
using OrleansCompute.Data;
using OrleansCompute.Grains.Placement;

namespace OrleansCompute.Grains.Data.Placement;

/// <summary>Reports this silo's <see cref="LocalShards"/>; placed on the silo its key names.</summary>
[SiloBoundPlacement]
public sealed class ShardHostGrain(LocalShards local, ILocalSiloDetails silo) : Grain, IShardHostGrain
{
    public Task<ShardHostInfo> DescribeAsync(CancellationToken cancellationToken = default)
    {
        var here = silo.SiloAddress.ToParsableString();
        if (here != this.GetPrimaryKeyString())
        {
            // Placed here because the silo it names was not known yet (or is gone): try again next time.
            DeactivateOnIdle();
        }

        return Task.FromResult(new ShardHostInfo(here, local.Keys.Count, local.MovesInFlight, local.MovesCompleted, local.Draining));
    }
}
