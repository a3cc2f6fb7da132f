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
    /// was dropped, and <paramref name="moved"/> whether a shard refused it because its keys moved
    /// to a new layout (the table is resharding). Shards refuse both before applying anything, so
    /// running the operation again on the table as it is now is safe.
    /// </summary>
    public async Task<T?> RunAsync<T>(
        string tenant, string table, Func<TableInfo, Task<T>> operation, Func<T, bool> tableGone, CancellationToken cancellationToken,
        Func<T, bool>? moved = null)
        where T : class
    {
        var info = await FindAsync(tenant, table, cancellationToken);
        var handOver = new HandOverWait();
        while (info is not null)
        {
            var result = await operation(info);
            if (moved?.Invoke(result) == true)
            {
                info = await handOver.NextAsync(this, tenant, table, cancellationToken);
                continue;
            }

            if (!tableGone(result))
            {
                return result;
            }

            Forget(tenant, table);
            var current = await FindAsync(tenant, table, cancellationToken);
            if (current is null || current.Id == info.Id)
            {
                return null;
            }

            // Dropped and created again, or its reshard finished and retired the layout we used.
            info = current;
        }

        return null;
    }

    /// <summary>
    /// Waits out a shard's hand-over during a reshard: the table as it is after a short, growing
    /// pause, fetched afresh; past a few seconds the caller is told to retry.
    /// </summary>
    public sealed class HandOverWait
    {
        private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
        private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
        private TimeSpan _pause = TimeSpan.FromMilliseconds(10);

        public async Task<TableInfo?> NextAsync(TableDirectory directory, string tenant, string table, CancellationToken cancellationToken)
        {
            if (System.Diagnostics.Stopwatch.GetElapsedTime(_started) > Patience)
            {
                throw new ShardUnavailableException("The table is resharding and this key's shard is still handing over; nothing was changed. Retry.", outcomeUnknown: false);
            }

            await Task.Delay(_pause, cancellationToken);
            _pause = TimeSpan.FromTicks(Math.Min(_pause.Ticks * 2, TimeSpan.FromMilliseconds(200).Ticks));
            directory.Forget(tenant, table);
            return await directory.FindAsync(tenant, table, cancellationToken);
        }
    }
}
