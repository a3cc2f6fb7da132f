using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Tenancy;

/// <summary>The names of all tenants, for the admin listing. Only tenant creation writes here.</summary>
public sealed class TenantDirectoryGrain(
    [PersistentState("tenants", StorageNames.Default)] IPersistentState<TenantDirectoryGrain.State> state) : Grain, ITenantDirectoryGrain
{
    public async Task AddAsync(string tenant, CancellationToken cancellationToken = default)
    {
        if (state.State.Tenants.Add(tenant))
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    // The default tenant exists from the start, so it is always listed.
    public Task<Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult(NamePage.Of(state.State.Tenants.Append(TenantKey.DefaultTenant), after, limit));

    [GenerateSerializer, Alias("oc.TenantDirectoryGrain.State")]
    public sealed class State
    {
        [Id(0)] public HashSet<string> Tenants { get; set; } = new(StringComparer.Ordinal);
    }
}
