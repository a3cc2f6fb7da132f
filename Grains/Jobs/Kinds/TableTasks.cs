using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Jobs.Kinds;

/// <summary>
/// The map side of data-local kinds: one task per shard of a table, run on the silo that hosts
/// the shard, reading the shard's live values page by page.
/// <para>
/// A plain table's shard is a shard grain: its values are read through local calls to it. A
/// transactional table's keys live in key grains, one per key, listed per shard by an index grain:
/// the task runs on the silo of its shard's index and reads committed values through the local
/// transaction coordinator, a page per transaction. Each page is a serializable snapshot; the task
/// as a whole, like a paged scan, is not one snapshot of the table.
/// </para>
/// </summary>
public static class TableTasks
{
    private const int PageSize = 1000;

    // Keys of a transactional page are read one after the other in one transaction: a short page
    // keeps its locks (which writers to those keys wait on) short.
    private const int TransactionalPageSize = 100;

    /// <summary>One task per shard of the input's table; the task input says which shard it reads.</summary>
    public static async ValueTask<IReadOnlyList<PlannedTask>> PerShardAsync(JsonElement input, PlanContext context, CancellationToken cancellationToken)
    {
        var name = input.String("table")!;
        if (!TableNames.IsValid(name))
        {
            throw new InvalidInputException("input.table", $"'{name}' is not a valid table name: {TableNames.Rule}.");
        }

        var table = await context.Grains.GetGrain<ITableGrain>(TenantKey.For(context.Tenant, name)).DescribeAsync(cancellationToken)
            ?? throw new InvalidInputException("input.table", $"there is no table '{name}'.");
        if (table.Transactional)
        {
            return Enumerable.Range(0, table.Shards)
                .Select(shard => new PlannedTask(
                    new JsonObject { ["tableId"] = table.Id.ToString("N"), ["txnShard"] = shard },
                    TransactionalShard: TxnKeys.IndexGrain(context.Tenant, table.Id, shard)))
                .ToList();
        }

        // One task per shard of the current layout, also while the table reshards: a task whose
        // shard hands over mid-way reads the rest of that shard's keys from the new layout.
        return Enumerable.Range(0, table.Shards)
            .Select(shard => ShardMap.ShardKey(context.Tenant, table, shard))
            .Select(key => new PlannedTask(new JsonObject { ["shard"] = key, ["table"] = name, ["createdAt"] = table.CreatedAt.ToUnixTimeMilliseconds() }, key))
            .ToList();
    }

    /// <summary>Every live (for a transactional table: committed) value of the task's shard, parsed as JSON.</summary>
    public static IAsyncEnumerable<JsonElement> ValuesAsync(TaskRun run, CancellationToken cancellationToken) =>
        run.Input.TryGetProperty("txnShard", out var shard)
            ? TransactionalValuesAsync(run, Guid.ParseExact(run.Input.String("tableId")!, "N"), shard.GetInt32(), cancellationToken)
            : ShardValuesAsync(run, cancellationToken);

    private static async IAsyncEnumerable<JsonElement> ShardValuesAsync(TaskRun run, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var planned = ShardMap.Parse(run.Input.String("shard")!);
        var queue = new Queue<string>([run.Input.String("shard")!]);
        string? after = null;
        var handedOver = false;
        while (queue.TryDequeue(out var key))
        {
            var shard = run.Grains.GetGrain<IShardGrain>(key);
            var from = after;
            while (true)
            {
                var page = await shard.ScanAsync("", from, PageSize, cancellationToken);
                if ((page.Moved || page.TableNotFound) && !handedOver)
                {
                    // The planned shard handed its keys over to a reshard's new layout: read the
                    // rest of them (its keys after the cursor) from the shards that now hold them.
                    handedOver = true;
                    foreach (var target in await SuccessorsAsync(run, planned, cancellationToken))
                    {
                        queue.Enqueue(target);
                    }

                    break;
                }

                if (page.TableNotFound || page.Moved)
                {
                    throw new InvalidOperationException("the table was dropped or resharded again while the job ran");
                }

                foreach (var item in page.Items)
                {
                    // After a hand-over, the new shards also hold other old shards' keys: only this one's count.
                    if (!handedOver || ShardMap.ShardOf(item.Key, planned.Shards) == planned.Shard)
                    {
                        yield return Parse(item.Value, cancellationToken);
                    }
                }

                if (!page.More || page.Items.Count == 0)
                {
                    break;
                }

                from = page.Items[^1].Key;
                if (!handedOver)
                {
                    after = from;
                }
            }
        }
    }

    // The shards of the layout that took over the planned shard's keys, once that hand-over is
    // recorded (until then the copy may be incomplete). The table's creation time tells a reshard
    // from a drop and a new table of the same name.
    private static async Task<IReadOnlyList<string>> SuccessorsAsync(TaskRun run, ShardAddress planned, CancellationToken cancellationToken)
    {
        var table = run.Grains.GetGrain<ITableGrain>(TenantKey.For(run.Tenant, run.Input.String("table")!));
        var createdAt = run.Input.GetProperty("createdAt").GetInt64();
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            var info = await table.DescribeAsync(cancellationToken);
            if (info is null || info.CreatedAt.ToUnixTimeMilliseconds() != createdAt)
            {
                throw new InvalidOperationException("the table was dropped while the job ran");
            }

            var (toId, to) = info switch
            {
                { Id: var id, Resharding: { } r } when id == planned.TableId && r.HasMoved(planned.Shard) => (r.ToId, r.To),
                { Id: var id } when id != planned.TableId => (info.Id, info.Shards),
                _ => (Guid.Empty, 0),
            };
            if (to > 0)
            {
                return [.. Enumerable.Range(0, to)
                    // Counts that divide each other map shards to shards; any other chain of reshards: every shard, filtered.
                    .Where(target => (to % planned.Shards != 0 && planned.Shards % to != 0) || ShardMap.Sources(target, to, planned.Shards).Contains(planned.Shard))
                    .Select(target => ShardMap.ShardKey(planned.Tenant, toId, target, to, planned.Encrypted))];
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        throw new InvalidOperationException("the table's shard is still handing over; the attempt is retried");
    }

    private static async IAsyncEnumerable<JsonElement> TransactionalValuesAsync(
        TaskRun run, Guid tableId, int shard, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A stateless worker: the call stays on this silo, where the shard's index is.
        var coordinator = run.Grains.GetGrain<ITransactionCoordinatorGrain>(0);
        string? after = null;
        while (true)
        {
            var page = await coordinator.ScanShardAsync(run.Tenant, tableId, shard, after, TransactionalPageSize, cancellationToken);
            if (page.Outcome != TxnOutcome.Committed)
            {
                // The attempt fails and is retried with backoff, like any task that throws.
                throw new InvalidOperationException($"reading shard {shard} failed ({page.Outcome}): {page.Message}");
            }

            foreach (var item in page.Items)
            {
                yield return Parse(item.Value, cancellationToken);
            }

            if (!page.More || page.Items.Count == 0)
            {
                yield break;
            }

            after = page.Items[^1].Key;
        }
    }

    private static JsonElement Parse(byte[] value, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var document = JsonDocument.Parse(value);
        return document.RootElement.Clone();
    }
}
