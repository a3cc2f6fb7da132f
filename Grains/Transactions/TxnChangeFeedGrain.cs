using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Data;
using OrleansCompute.Grains.Transactions.Storage;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Transactions;

/// <summary>
/// Watch on one shard of a transactional table (docs/coordination.md, "Watch"). The history is
/// the change log the key grains' commits write (<see cref="TransactionalStateWriter"/>), so this
/// grain holds nothing that matters: any activation on any silo, after any failure, serves the
/// same changes. It answers from the log only what a snapshot shows committed, through the feed's
/// head, so nothing is served that could still be undone.
///
/// A long poll with nothing new waits for a commit's <see cref="CommittedAsync"/> call, and looks
/// at the log again at least every <see cref="Recheck"/> in case that call was lost (the writer's
/// silo died right after its commit). One Api process polls each shard once for all its
/// watchers, so the log is read once per commit per Api process, not per watcher.
///
/// A dropped table: the drop marks the table's shard rows in <c>oc_kv_shard</c> (as for a plain
/// table), and the same read that fetches the changes reads that mark, so every answer after the
/// drop is <see cref="ShardChangesStatus.Dropped"/>, from any activation. The table grain's
/// <see cref="DroppedAsync"/> wakes the waiting polls at once; without it they see the mark at their
/// next look, within <see cref="Recheck"/>.
///
/// In embedded mode there is no log to read: every read answers <see cref="ShardChangesStatus.NoChangeLog"/>.
/// </summary>
[Reentrant]
public sealed class TxnChangeFeedGrain(IServiceProvider services) : Grain, ITxnChangeFeedGrain
{
    private TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<ShardChanges> ReadChangesAsync(long after, int limit, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        if (services.GetService<TxnChangeLog>() is not { } log)
        {
            // Embedded mode: its transactional storage (SQLite) writes no change log. An answer, not
            // a fault: the watch refuses the table with a 400 saying why.
            return new ShardChanges(ShardChangesStatus.NoChangeLog, [], 0);
        }

        var (_, tableId, shard) = Parse(this.GetPrimaryKeyString());
        limit = Math.Clamp(limit, 1, MaxChangesPerRead);
        // On the monotonic clock, as the shard grain's polls: a wall-clock step must not end or stretch the wait.
        var waited = Stopwatch.StartNew();
        var poll = wait < MaxPoll ? wait : MaxPoll;
        while (true)
        {
            // Taken before the read: a commit that lands after the read wakes this wait.
            var committed = _committed.Task;
            var page = await log.ReadAsync(tableId, shard, after, limit, cancellationToken);
            if (page.Dropped)
            {
                // As a plain table's shard answers: the stream says `dropped` and ends.
                return new ShardChanges(ShardChangesStatus.Dropped, [], page.Head, page.Floor);
            }

            if (after < 0)
            {
                return new ShardChanges(ShardChangesStatus.Ok, [], page.Head, page.Floor);
            }

            if (after < page.Floor)
            {
                return new ShardChanges(ShardChangesStatus.Compacted, [], page.Head, page.Floor);
            }

            var remaining = poll - waited.Elapsed;
            if (page.Changes.Count > 0 || after < page.Head || remaining <= TimeSpan.Zero)
            {
                var head = page.Changes.Count == limit ? page.Changes[^1].Revision : Math.Max(page.Head, after);
                return new ShardChanges(ShardChangesStatus.Ok, page.Changes, head, page.Floor);
            }

            await Task.WhenAny(committed, Task.Delay(remaining < Recheck ? remaining : Recheck, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public Task CommittedAsync() => WakeAsync();

    // The drop is already durable (the shard rows are marked): the woken polls read the mark.
    public Task DroppedAsync() => WakeAsync();

    private Task WakeAsync()
    {
        var woken = _committed;
        _committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        woken.TrySetResult();
        return Task.CompletedTask;
    }

    // The grain's key is the shard's key index key: tenant, table incarnation, shard.
    private static (string Tenant, Guid TableId, int Shard) Parse(string key)
    {
        var (tenant, rest) = TenantKey.Parse(key);
        var slash = rest.IndexOf('/');
        return (tenant, Guid.ParseExact(rest[..slash], "N"), int.Parse(rest[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    // Long polls stay well inside Orleans' response timeout, as the shard grain's do.
    private static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(1);

    private const int MaxChangesPerRead = 1000;
}
