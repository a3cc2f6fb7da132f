using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansCompute.Data;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// Spreads a table's shards round-robin over the active silos: shard i of a table goes to silo
/// (offset + i) mod n in address order, the offset coming from the table id so that small
/// tables do not all start on the first silo. Placement only decides where a shard activates;
/// when silos come or go, new activations follow the new list.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("oc.ShardPlacement")]
public sealed class ShardPlacement : PlacementStrategy;

/// <summary>Places the grain class with <see cref="ShardPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ShardPlacementAttribute() : PlacementAttribute(new ShardPlacement());

public sealed class ShardPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        Array.Sort(silos);
        var (_, tableId, shard, _) = ShardMap.Parse(target.GrainIdentity.Key.ToString()!);
        var offset = (int)(BitConverter.ToUInt32(tableId.ToByteArray(), 0) % (uint)silos.Length);
        return Task.FromResult(silos[(offset + shard) % silos.Length]);
    }
}
