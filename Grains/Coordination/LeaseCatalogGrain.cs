using OrleansCompute.Coordination;
using OrleansCompute.Data;
using OrleansCompute.Grains.Coordination.Storage;

namespace OrleansCompute.Grains.Coordination;

/// <summary>Lists a tenant's live leases from the store: a query, no state, so any silo may answer it.</summary>
[StatelessWorker]
public sealed class LeaseCatalogGrain(ICoordinationStore store) : Grain, ILeaseCatalogGrain
{
    public async Task<Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default)
    {
        var ids = await store.ListLeasesAsync(this.GetPrimaryKeyString(), after, limit + 1, cancellationToken);
        return ids.Count > limit ? new Page<string>(ids[..limit], ids[limit - 1]) : new Page<string>(ids, null);
    }
}
