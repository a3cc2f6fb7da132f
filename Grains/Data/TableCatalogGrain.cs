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

    public Task<Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult(NamePage.Of(state.State.Tables, after, limit));

    [GenerateSerializer, Alias("oc.TableCatalogGrain.State")]
    public sealed class State
    {
        [Id(0)] public HashSet<string> Tables { get; set; } = new(StringComparer.Ordinal);
    }
}
