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

    public Task<Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default)
    {
        var names = state.State.Tenants.Append(TenantKey.DefaultTenant)
            .Where(n => after is null || string.CompareOrdinal(n, after) > 0)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .Take(limit + 1)
            .ToList();
        return Task.FromResult(new Page<string>(names.Take(limit).ToList(), names.Count > limit ? names[limit - 1] : null));
    }

    [GenerateSerializer, Alias("oc.TenantDirectoryGrain.State")]
    public sealed class State
    {
        [Id(0)] public HashSet<string> Tenants { get; set; } = new(StringComparer.Ordinal);
    }
}
