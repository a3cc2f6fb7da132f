using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace OrleansCompute.Grains.Placement;

/// <summary>
/// Places a grain on the silo its key names (a <see cref="SiloAddress"/> in parsable form), so a
/// job can choose where each task runs. When that silo is gone, the grain lands on the caller's silo.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("oc.SiloBoundPlacement")]
public sealed class SiloBoundPlacement : PlacementStrategy;

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloBoundPlacementAttribute() : PlacementAttribute(new SiloBoundPlacement());

public sealed class SiloBoundPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var wanted = SiloAddress.FromParsableString(target.GrainIdentity.Key.ToString()!);
        var silos = context.GetCompatibleSilos(target);
        return Task.FromResult(Array.IndexOf(silos, wanted) >= 0 ? wanted : context.LocalSilo);
    }
}
