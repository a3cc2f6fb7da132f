using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansCompute.Api.Observability;
using OrleansCompute.Api.Transactions;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Data;

/// <summary>
/// The Api's data plane: routes key operations, scans and batches to the shards (or, on
/// transactional tables, to transactions), merges scan pages, and rides out drops, re-creates and
/// reshards. Endpoints parse, call this, and map its answers.
/// </summary>
/// <remarks>
/// Table specs are cached for two seconds, so a key operation costs one grain call (to its shard),
/// not two; creates, reshards and drops through this instance evict the entry. A table dropped (and
/// maybe created again) or resharded through another instance is found out by <see cref="RunAsync"/>:
/// the stale layout's shards refuse the operation with nothing applied, and it runs once more on the
/// table as it is now.
/// </remarks>
public sealed class TableClient(IGrainFactory grains, TransactionClient transactions, TimeProvider clock, ApiMetrics metrics)
{
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, (TableInfo Table, DateTimeOffset FetchedAt)> _tables = new(StringComparer.Ordinal);

    /// <summary>The table's spec, at most two seconds old; null when there is no such table.</summary>
    public async ValueTask<TableInfo?> FindAsync(string tenant, string table, CancellationToken cancellationToken)
    {
        var key = TenantKey.For(tenant, table);
        if (_tables.TryGetValue(key, out var cached) && clock.GetUtcNow() - cached.FetchedAt < Freshness)
        {
            return cached.Table;
        }

        var info = await Table(tenant, table).DescribeAsync(cancellationToken);
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

    /// <summary>The grain that owns the table's spec, for creating, resharding, describing and dropping it.</summary>
    public ITableGrain Table(string tenant, string table) => grains.GetGrain<ITableGrain>(TenantKey.For(tenant, table));

    /// <summary>Evicts the cached spec: call after changing the table through <see cref="Table"/>.</summary>
    public void Forget(string tenant, string table) => _tables.TryRemove(TenantKey.For(tenant, table), out _);

    /// <summary>One key operation; <see cref="KvStatus.TableNotFound"/> when there is no such table.</summary>
    public async Task<DataAnswer<KvResult>> ExecuteAsync(string tenant, string table, KvOp op, CancellationToken cancellationToken)
    {
        var started = metrics.Start(tenant, table);
        var status = "error";
        try
        {
            var answer = await ExecuteUnmeasuredAsync(tenant, table, op, cancellationToken);
            status = answer.Committed ? ApiMetrics.StatusName(answer.Value.Status) : "txn_" + OrleansCompute.Observability.OrleansInstrumentBridge.SnakeCase(answer.Outcome.ToString());
            return answer;
        }
        finally
        {
            metrics.KvDone(started, tenant, table, ApiMetrics.OpName(op.Kind), status);
        }
    }

    private async Task<DataAnswer<KvResult>> ExecuteUnmeasuredAsync(string tenant, string table, KvOp op, CancellationToken cancellationToken) =>
        await RunAsync(tenant, table,
            async info => info.Transactional
                ? await transactions.ExecuteAsync(tenant, info, op, cancellationToken)
                : new DataAnswer<KvResult>(await Shard(ShardMap.ShardKeyFor(tenant, info, op.Key)).ExecuteAsync(op, cancellationToken)),
            answer => answer.Value.Status == KvStatus.TableNotFound,
            answer => answer.Value.Status == KvStatus.Moved,
            cancellationToken)
        ?? new DataAnswer<KvResult>(new KvResult(KvStatus.TableNotFound));

    /// <summary>
    /// Up to <paramref name="limit"/> live keys after <paramref name="after"/> in <see cref="KeyOrder"/>
    /// across all shards; null when there is no such table.
    /// </summary>
    public async Task<DataAnswer<KvScanPage>?> ScanAsync(
        string tenant, string table, string prefix, string? after, int limit, CancellationToken cancellationToken)
    {
        var started = metrics.Start(tenant, table);
        var status = "error";
        try
        {
            var answer = await ScanUnmeasuredAsync(tenant, table, prefix, after, limit, cancellationToken);
            status = answer is null ? ApiMetrics.StatusName(KvStatus.TableNotFound) : answer.Value.Committed ? "ok" : "txn_" + OrleansCompute.Observability.OrleansInstrumentBridge.SnakeCase(answer.Value.Outcome.ToString());
            return answer;
        }
        finally
        {
            metrics.KvDone(started, tenant, table, "scan", status);
        }
    }

    private async Task<DataAnswer<KvScanPage>?> ScanUnmeasuredAsync(
        string tenant, string table, string prefix, string? after, int limit, CancellationToken cancellationToken)
    {
        var answer = await RunAsync(tenant, table,
            async info => info.Transactional
                ? await transactions.ScanAsync(tenant, info, prefix, after, limit, cancellationToken)
                : new DataAnswer<KvScanPage>(Merge(await Task.WhenAll(ShardMap.ShardKeysOf(tenant, info).Select(shard =>
                    Shard(shard).ScanAsync(prefix, after, limit, cancellationToken))), limit)),
            answer => answer.Value.TableNotFound,
            answer => answer.Value.Moved,
            cancellationToken);
        return answer;
    }

    /// <summary>
    /// Runs each operation on its own, answers in request order; null when there is no such table.
    /// The table must not be transactional (its keys change only in transactions).
    /// </summary>
    public async Task<KvResult[]?> BatchAsync(string tenant, string table, IReadOnlyList<KvOp> ops, CancellationToken cancellationToken)
    {
        var started = metrics.Start(tenant, table);
        var status = "error";
        try
        {
            var results = await BatchUnmeasuredAsync(tenant, table, ops, cancellationToken);
            status = results is null ? ApiMetrics.StatusName(KvStatus.TableNotFound) : "ok";
            return results;
        }
        finally
        {
            metrics.KvDone(started, tenant, table, "batch", status);
        }
    }

    private async Task<KvResult[]?> BatchUnmeasuredAsync(string tenant, string table, IReadOnlyList<KvOp> ops, CancellationToken cancellationToken)
    {
        var answer = await RunAsync(tenant, table,
            async info => new DataAnswer<KvResult[]>(await BatchByShardAsync(tenant, table, info, ops, cancellationToken)),
            answer => answer.Value.Any(r => r.Status == KvStatus.TableNotFound),
            moved: null,
            cancellationToken);
        return answer?.Value;
    }

    /// <summary>Each shard of the table: where it lives and how many keys it holds.</summary>
    public Task<ShardInfo[]> DescribeShardsAsync(string tenant, TableInfo info, CancellationToken cancellationToken) =>
        Task.WhenAll(ShardMap.ShardKeysOf(tenant, info).Select(shard => Shard(shard).DescribeAsync(cancellationToken)));

    /// <summary>The table's live keys; on a transactional table its committed keys.</summary>
    public async Task<long> CountKeysAsync(string tenant, TableInfo info, CancellationToken cancellationToken) =>
        info.Transactional
            ? await transactions.CountAsync(tenant, info, cancellationToken)
            : (await DescribeShardsAsync(tenant, info, cancellationToken)).Sum(s => s.Keys);

    private IShardGrain Shard(string key) => grains.GetGrain<IShardGrain>(key);

    // Every shard returns its first matches in order; the page is the smallest of their union.
    private static KvScanPage Merge(KvScanPage[] pages, int limit)
    {
        if (pages.Any(p => p.TableNotFound || p.Moved))
        {
            return new KvScanPage([], false, pages.Any(p => p.TableNotFound), pages.Any(p => p.Moved));
        }

        var merged = pages.SelectMany(p => p.Items).OrderBy(i => i.Key, KeyOrder.Instance).ToList();
        var more = merged.Count > limit || pages.Any(p => p.More);
        return new KvScanPage(merged.Take(limit).ToList(), more);
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on the table; null when there is no such table.
    /// <paramref name="tableGone"/> says whether the shards refused it because this incarnation was
    /// dropped, and <paramref name="moved"/> whether a shard refused it because its keys moved to a
    /// new layout (the table is resharding). Shards refuse both before applying anything, so running
    /// the operation again on the table as it is now is safe.
    /// </summary>
    private async Task<T?> RunAsync<T>(
        string tenant, string table, Func<TableInfo, Task<T>> operation, Func<T, bool> tableGone, Func<T, bool>? moved,
        CancellationToken cancellationToken)
        where T : struct
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

    // One call per shard, each carrying that shard's operations in request order; answers come back in
    // request order. A shard that refused its operations because it is handing over (a reshard) applied
    // none of them: only those are routed again, so no operation runs twice.
    private async Task<KvResult[]> BatchByShardAsync(
        string tenant, string table, TableInfo info, IReadOnlyList<KvOp> ops, CancellationToken cancellationToken)
    {
        var results = new KvResult[ops.Count];
        var pending = Enumerable.Range(0, ops.Count).ToList();
        var handOver = new HandOverWait();
        while (true)
        {
            var byShard = pending.GroupBy(index => ShardMap.ShardKeyFor(tenant, info, ops[index].Key)).ToList();
            var answers = await Task.WhenAll(byShard.Select(group =>
                Shard(group.Key).ExecuteBatchAsync([.. group.Select(index => ops[index])], cancellationToken)));
            var moved = new List<int>();
            foreach (var (group, answer) in byShard.Zip(answers))
            {
                foreach (var (index, result) in group.Zip(answer))
                {
                    if (result.Status == KvStatus.Moved)
                    {
                        moved.Add(index);
                    }
                    else
                    {
                        results[index] = result;
                    }
                }
            }

            if (moved.Count == 0)
            {
                return results;
            }

            TableInfo? current;
            try
            {
                current = await handOver.NextAsync(this, tenant, table, cancellationToken);
            }
            catch (ShardUnavailableException) when (moved.Count < ops.Count)
            {
                // Past the hand-over patience some of the batch has applied: the answer must say so.
                throw new ShardUnavailableException(
                    "The table is resharding and some keys' shards are still handing over; the batch's other operations were applied. Retry the rest.",
                    outcomeUnknown: true);
            }

            if (current is null)
            {
                foreach (var index in moved)
                {
                    results[index] = new KvResult(KvStatus.TableNotFound);
                }

                return results;
            }

            (pending, info) = (moved, current);
        }
    }

    /// <summary>
    /// Waits out a shard's hand-over during a reshard: the table as it is after a short, growing
    /// pause, fetched afresh; past a few seconds the caller is told to retry.
    /// </summary>
    private sealed class HandOverWait
    {
        private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
        private readonly long _started = Stopwatch.GetTimestamp();
        private TimeSpan _pause = TimeSpan.FromMilliseconds(10);

        public async Task<TableInfo?> NextAsync(TableClient client, string tenant, string table, CancellationToken cancellationToken)
        {
            if (Stopwatch.GetElapsedTime(_started) > Patience)
            {
                throw new ShardUnavailableException("The table is resharding and this key's shard is still handing over; nothing was changed. Retry.", outcomeUnknown: false);
            }

            await Task.Delay(_pause, cancellationToken);
            _pause = TimeSpan.FromTicks(Math.Min(_pause.Ticks * 2, TimeSpan.FromMilliseconds(200).Ticks));
            client.Forget(tenant, table);
            return await client.FindAsync(tenant, table, cancellationToken);
        }
    }
}
