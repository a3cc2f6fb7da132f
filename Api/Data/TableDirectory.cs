using System.Collections.Concurrent;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Data;

/// <summary>
/// The Api's short-lived cache of table specs, so a key operation costs one grain call (to its
/// shard), not two. An entry lives two seconds; a shard that answers "table not found" evicts it
/// at once, and creates and drops through this instance evict it too. A table dropped through
/// another instance is found out by the first key operation that reaches its fenced shards.
/// </summary>
public sealed class TableDirectory(IGrainFactory grains, TimeProvider clock)
{
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, (TableInfo Table, DateTimeOffset FetchedAt)> _tables = new(StringComparer.Ordinal);

    public async ValueTask<TableInfo?> FindAsync(string tenant, string table, CancellationToken cancellationToken)
    {
        var key = TenantKey.For(tenant, table);
        if (_tables.TryGetValue(key, out var cached) && clock.GetUtcNow() - cached.FetchedAt < Freshness)
        {
            return cached.Table;
        }

        var info = await grains.GetGrain<ITableGrain>(key).DescribeAsync(cancellationToken);
        if (info is null)
        {
            _tables.TryRemove(key, out _);
        }
        else
        {
            _tables[key] = (info, clock.GetUtcNow());
        }

        return info;
    }

    public void Forget(string tenant, string table) => _tables.TryRemove(TenantKey.For(tenant, table), out _);
}
