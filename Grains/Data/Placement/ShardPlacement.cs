using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansCompute.Data;

namespace OrleansCompute.Grains.Data.Placement;

/// <summary>
/// Places each shard on the silo <see cref="ShardLayout"/> names for the active silos, so a new
/// activation (first use, after a silo died, or a move the rebalancer asked for) lands where the
/// layout wants it, and every silo agrees where that is.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("oc.ShardPlacement")]
public sealed class ShardPlacement : PlacementStrategy;

/// <summary>Places the grain class with <see cref="ShardPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ShardPlacementAttribute() : PlacementAttribute(new ShardPlacement());

public sealed class ShardPlacementDirector(LocalShards local) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var address = ShardMap.Parse(target.GrainIdentity.Key.ToString()!);
        return Task.FromResult(Place(address, context.GetCompatibleSilos(target), context.LocalSilo, local.Draining));
    }

    /// <summary>The silo of <paramref name="candidates"/> that <paramref name="shard"/> belongs on; never a draining local silo, if there is another.</summary>
    public static SiloAddress Place(ShardAddress shard, SiloAddress[] candidates, SiloAddress localSilo, bool draining)
    {
        var silos = draining && candidates.Length > 1 ? candidates.Where(s => !s.Equals(localSilo)).ToArray() : candidates;
        return silos[ShardLayout.Owner(shard.TableId, shard.Shard, shard.Shards, [.. silos.Select(Identity)])];
    }

    /// <summary>A silo as the layout knows it: its endpoint, so a silo restarted at the same address gets its shards back.</summary>
    public static string Identity(SiloAddress silo) => silo.Endpoint.ToString();
}
