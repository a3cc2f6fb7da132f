using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// Owns one table's spec. The state row is written before the catalog is told, so a table listed
/// by the catalog always has its spec; a crash in between is repaired by the next create, which
/// re-registers an identical table.
/// A drop first fences the table's shards in the store (no shard commits to it again, however
/// stale), then forgets the spec; its rows are purged in the background, so dropping a table of
/// any size answers at once.
/// </summary>
public sealed class TableGrain(
    [PersistentState("table", StorageNames.Default)] IPersistentState<TableGrain.State> state,
    IKeyValueStore store,
    ValueProtector protector,
    [FromKeyedServices(KeyValueOptions.ClockKey)] TimeProvider clock) : Grain, ITableGrain
{
    public async Task<TableCreateResult> CreateAsync(TableSpec spec, CancellationToken cancellationToken = default)
    {
        var (tenant, name) = TenantKey.Parse(this.GetPrimaryKeyString());
        if (state.State.Table is { } existing)
        {
            var identical = existing.Transactional == spec.Transactional && existing.Shards == spec.Shards && existing.Encrypted == spec.Encrypted;
            if (identical)
            {
                await Catalog(tenant).AddAsync(name, cancellationToken);
            }

            return new(identical ? TableCreateOutcome.Identical : TableCreateOutcome.Conflict, existing);
        }

        var table = new TableInfo(name, spec.Transactional, spec.Shards, clock.GetUtcNow(), Guid.NewGuid(), spec.Encrypted);
        if (spec.Encrypted && !protector.IsConfigured)
        {
            return new(TableCreateOutcome.EncryptionNotConfigured, table);
        }

        state.State.Table = table;
        await state.WriteStateAsync(cancellationToken);
        await Catalog(tenant).AddAsync(name, cancellationToken);
        return new(TableCreateOutcome.Created, table);
    }

    public Task<TableInfo?> DescribeAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(state.State.Table);

    public async Task<bool> DropAsync(CancellationToken cancellationToken = default)
    {
        if (state.State.Table is not { } table)
        {
            return false;
        }

        var (tenant, name) = TenantKey.Parse(this.GetPrimaryKeyString());
        await store.MarkDroppedAsync(table.Id, table.Shards, cancellationToken);
        // Active shards drop their memory now; inactive ones learn it from the store if ever activated.
        await Task.WhenAll(Enumerable.Range(0, table.Shards).Select(shard =>
            GrainFactory.GetGrain<IShardGrain>(ShardMap.ShardKey(tenant, table, shard)).DropAsync(cancellationToken)));
        await Catalog(tenant).RemoveAsync(name, cancellationToken);
        await state.ClearStateAsync(cancellationToken);
        DeactivateOnIdle();
        return true;
    }

    private ITableCatalogGrain Catalog(string tenant) => GrainFactory.GetGrain<ITableCatalogGrain>(tenant);

    [GenerateSerializer, Alias("oc.TableGrain.State")]
    public sealed class State
    {
        [Id(0)] public TableInfo? Table { get; set; }
    }
}
