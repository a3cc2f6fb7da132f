using OrleansCompute.Data;

namespace OrleansCompute.Grains.Data;

/// <summary>The set of one tenant's table names. Tenants have tens or hundreds of tables, so a
/// listing sorts in memory rather than keeping a sorted structure in state.</summary>
public sealed class TableCatalogGrain(
    [PersistentState("tables", StorageNames.Default)] IPersistentState<TableCatalogGrain.State> state) : Grain, ITableCatalogGrain
{
    public async Task AddAsync(string table, CancellationToken cancellationToken = default)
    {
        if (state.State.Tables.Add(table))
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public async Task RemoveAsync(string table, CancellationToken cancellationToken = default)
    {
        if (state.State.Tables.Remove(table))
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public Task<Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var items = state.State.Tables
            .Where(n => after is null || string.CompareOrdinal(n, after) > 0)
            .Order(StringComparer.Ordinal)
            .Take(limit + 1)
            .ToList();
        var next = items.Count > limit ? items[limit - 1] : null;
        return Task.FromResult(new Page<string>(items.Take(limit).ToList(), next));
    }

    [GenerateSerializer, Alias("oc.TableCatalogGrain.State")]
    public sealed class State
    {
        [Id(0)] public HashSet<string> Tables { get; set; } = new(StringComparer.Ordinal);
    }
}
