using System.Collections.Concurrent;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Data;

/// <summary>
/// The Api's short-lived cache of table specs, so a key operation costs one grain call (to its
/// shard), not two. An entry lives two seconds; creates and drops through this instance evict it.
/// A table dropped (and maybe created again) through another instance is found out by
/// <see cref="RunAsync"/>: the dropped incarnation's shards refuse the operation with nothing
/// applied, and it runs once more on the table as it is now.
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

    /// <summary>
    /// Runs <paramref name="operation"/> on the table; null when there is no such table.
    /// <paramref name="tableGone"/> says whether the shards refused it because this incarnation
    /// was dropped, which they do before applying anything, so running it again is safe.
    /// </summary>
    public async Task<T?> RunAsync<T>(
        string tenant, string table, Func<TableInfo, Task<T>> operation, Func<T, bool> tableGone, CancellationToken cancellationToken)
        where T : class
    {
        var cached = await FindAsync(tenant, table, cancellationToken);
        if (cached is null)
        {
            return null;
        }

        var result = await operation(cached);
        if (!tableGone(result))
        {
            return result;
        }

        Forget(tenant, table);
        var current = await FindAsync(tenant, table, cancellationToken);
        if (current is null || current.Id == cached.Id)
        {
            return null;
        }

        result = await operation(current);
        return tableGone(result) ? null : result;
    }
}
