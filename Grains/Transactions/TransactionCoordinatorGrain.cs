using Microsoft.Extensions.Logging;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Transactions;
using OrleansCompute.Coordination;
using OrleansCompute.Data;
using OrleansCompute.Deadlines;
using OrleansCompute.Tenancy;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>
/// Runs each request as one Orleans transaction started here, close to the participants, and
/// retries it while it aborts. Holds no state, so any number of activations may run per silo.
/// </summary>
/// <remarks>
/// Reentrant because it holds no state: each request's transaction lives in its own async flow
/// (Orleans keeps the transaction context per flow), and a request spends nearly all its time
/// awaiting participants. Without it, a silo would run only one transaction per core at a time
/// (the default stateless-worker limit), measured at 62 transfers/s with 64 clients. The bank
/// test (many concurrent transfers and whole-bank reads through this grain) shows it is safe.
/// </remarks>
[StatelessWorker]
[Reentrant]
public sealed partial class TransactionCoordinatorGrain(
    ITransactionClient transactions,
    IOptions<TransactionRetryOptions> options,
    ILogger<TransactionCoordinatorGrain> logger) : Grain, ITransactionCoordinatorGrain
{
    public async Task<TxnResult> RunAsync(TxnRequest request, CancellationToken cancellationToken = default)
    {
        if (await NeverIssuedAsync(request) is { } refused)
        {
            return refused;
        }

        // Writers lock exclusively from the first read, so the compare's read never has to be
        // upgraded to a write lock, which fails whenever another transaction reads the same key.
        var writes = request.Success.Concat(request.Failure).Any(op => op.Kind != TxnOpKind.Get);
        TxnResult? result = null;
        var attempt = await RunWithRetriesAsync(async () =>
        {
            result = await ExecuteAsync(request);
            if (result.Outcome == TxnOutcome.Committed && RequestDeadline.HasPassed)
            {
                // The commit decision comes after the deadline: abort, so the transaction takes
                // effect before its deadline or never.
                result = new TxnResult(TxnOutcome.Unavailable, false, [], Message: PastDeadline);
                return false;
            }

            // Returning false aborts the transaction: a rejected op leaves nothing applied.
            return result.Outcome == TxnOutcome.Committed;
        }, writes);
        if (attempt.Outcome != TxnOutcome.Committed)
        {
            return new TxnResult(attempt.Outcome, false, [], Message: attempt.Message);
        }

        if (result!.Outcome != TxnOutcome.Committed)
        {
            // The body declined to commit (fenced, rejected, past its deadline): nothing changed.
            return result;
        }

        var ops = result.Succeeded ? request.Success : request.Failure;
        return result with { Results = await WithRevisionsAsync([.. ops.Select(o => o.Key.GrainKey)], result.Results, RevisionWaitFor(request, ops)) };
    }

    /// <summary>
    /// How long the answer may wait for revisions not known at the commit. A transaction over one
    /// key (every single-key GET, PUT, DELETE and increment) waits: its key is the transaction
    /// manager, whose change is logged by the commit itself, so it hardly ever does. A transaction
    /// over two or more keys does not: every written key but the manager's logs its change only in
    /// the Store it runs on the manager's confirmation, after the commit, and waiting for that cost
    /// transfers a quarter to a third of their throughput (docs/coordination.md). It answers the
    /// revisions known at the commit, and none for the others; a later GET answers those.
    /// </summary>
    private static TimeSpan RevisionWaitFor(TxnRequest request, TxnOp[] ops) =>
        request.Compare.Select(c => c.Key.GrainKey).Concat(ops.Select(o => o.Key.GrainKey)).Distinct(StringComparer.Ordinal).Skip(1).Any()
            ? TimeSpan.Zero
            : RequestDeadline.Cap(TransactionalKeyGrain.RevisionWait);

    /// <summary>
    /// The committed <paramref name="values"/> of the keys <paramref name="grainKeys"/> (one each),
    /// each with the revision of the change it was left at. Those still unknown (the changes this
    /// transaction made, or read before their key's Store logged them) are asked of their keys now
    /// that the transaction committed: one call per key, all at once (a branch has a bounded number
    /// of ops, a scan page a bounded number of keys), sharing one <paramref name="wait"/>: at most
    /// <see cref="TransactionalKeyGrain.RevisionWait"/>, and never past the request's deadline, so
    /// a committed answer is not lost to the Api's answer bound while a revision comes.
    /// </summary>
    private async Task<TxnKeyValue[]> WithRevisionsAsync(string[] grainKeys, IReadOnlyList<TxnKeyValue> values, TimeSpan wait)
    {
        var answered = values.ToArray();
        var pending = Enumerable.Range(0, answered.Length)
            .Where(i => answered[i].Revision is null)
            .GroupBy(i => grainKeys[i], StringComparer.Ordinal)
            .ToList();
        if (pending.Count == 0)
        {
            return answered;
        }

        var revisions = await Task.WhenAll(pending.Select(key => Key(key.Key).RevisionsAsync([.. key.Select(i => answered[i].Change)], wait)));
        for (var k = 0; k < pending.Count; k++)
        {
            foreach (var (index, revision) in pending[k].Zip(revisions[k]))
            {
                answered[index] = answered[index] with { Revision = revision };
            }
        }

        return answered;
    }

    // A fence must name a token its lock issued. Checked before the transaction, for both branches
    // (a lock's tokens only grow, so the answer stays true), with one call per lock named.
    private async Task<TxnResult?> NeverIssuedAsync(TxnRequest request)
    {
        var fenced = request.Success.Select((op, index) => (Op: op, Index: index, Succeeded: true))
            .Concat(request.Failure.Select((op, index) => (Op: op, Index: index, Succeeded: false)))
            .Where(o => o.Op.Fence is not null)
            .ToList();
        if (fenced.Count == 0)
        {
            return null;
        }

        var locks = fenced.Select(o => TenantKey.For(TxnKeys.ParseKeyGrain(o.Op.Key.GrainKey).Tenant, o.Op.Fence!.Lock))
            .Distinct(StringComparer.Ordinal).ToList();
        var issued = (await Task.WhenAll(locks.Select(async key => (key, await GrainFactory.GetGrain<ILockGrain>(key).IssuedThroughAsync()))))
            .ToDictionary(p => p.key, p => p.Item2, StringComparer.Ordinal);
        foreach (var (op, index, succeeded) in fenced)
        {
            var through = issued[TenantKey.For(TxnKeys.ParseKeyGrain(op.Key.GrainKey).Tenant, op.Fence!.Lock)];
            if (op.Fence.Token > through)
            {
                return new TxnResult(TxnOutcome.Fenced, succeeded, [], index,
                    $"Lock '{op.Fence.Lock}' never issued token {op.Fence.Token} (it issued up to {through}). Nothing was changed.");
            }
        }

        return null;
    }

    public Task<TxnScanPage> ScanAsync(
        string tenant, Guid tableId, int shards, string prefix, string? after, int limit, CancellationToken cancellationToken = default) =>
        ScanShardsAsync(tenant, tableId, IndexLockOrder(tenant, tableId, shards), prefix, after, limit);

    public Task<TxnScanPage> ScanShardAsync(string tenant, Guid tableId, int shard, string? after, int limit, CancellationToken cancellationToken = default) =>
        ScanShardsAsync(tenant, tableId, [shard], "", after, limit);

    /// <summary>A page over <paramref name="shards"/> (in index lock order), merged in key order.</summary>
    private async Task<TxnScanPage> ScanShardsAsync(string tenant, Guid tableId, IEnumerable<int> shards, string prefix, string? after, int limit)
    {
        TxnScanPage? page = null;
        List<(string Key, string Grain)> read = [];
        TxnKeyValue[] readValues = [];
        var attempt = await RunWithRetriesAsync(async () =>
        {
            // Indexes and keys are read in one transaction: the page is one serializable snapshot of committed data.
            var lists = new List<(int Shard, TxnIndexPage List)>();
            foreach (var shard in shards)
            {
                lists.Add((shard, await GrainFactory.GetGrain<ITransactionalKeyIndexGrain>(TxnKeys.IndexGrain(tenant, tableId, shard)).ListAsync(prefix, after, limit)));
            }

            var keys = lists
                .SelectMany(l => l.List.Keys.Select(key => (Key: key, Grain: TxnKeys.KeyGrain(tenant, tableId, l.Shard, key))))
                .OrderBy(k => k.Key, KeyOrder.Instance)
                .ToList();
            var chosen = keys.Take(limit).ToList();
            var values = await ReadInLockOrderAsync(chosen.Select(k => k.Grain));
            read = [.. chosen.Where(k => values[k.Grain].Exists)];
            readValues = [.. read.Select(k => values[k.Grain])];
            page = new TxnScanPage(TxnOutcome.Committed, [], keys.Count > limit || lists.Any(l => l.List.More));
            return true;
        }, exclusive: false);
        if (attempt.Outcome != TxnOutcome.Committed)
        {
            return new TxnScanPage(attempt.Outcome, [], false, attempt.Message);
        }

        // A read is late only when it read a change whose confirmation was still on its way: rare.
        var committed = await WithRevisionsAsync([.. read.Select(k => k.Grain)], readValues, RequestDeadline.Cap(TransactionalKeyGrain.RevisionWait));
        return page! with { Items = [.. read.Zip(committed, (k, v) => new KvItem(k.Key, v.Value!, v.Version, v.Revision ?? 0))] };
    }

    public async Task<long> CountAsync(string tenant, Guid tableId, int shards, CancellationToken cancellationToken = default)
    {
        long count = 0;
        var attempt = await RunWithRetriesAsync(async () =>
        {
            count = 0;
            foreach (var shard in IndexLockOrder(tenant, tableId, shards))
            {
                count += await GrainFactory.GetGrain<ITransactionalKeyIndexGrain>(TxnKeys.IndexGrain(tenant, tableId, shard)).CountAsync();
            }

            return true;
        }, exclusive: false);
        return attempt.Outcome == TxnOutcome.Committed
            ? count
            : throw new ShardUnavailableException($"The key count could not be read: {attempt.Message}", outcomeUnknown: false);
    }

    private async Task<TxnResult> ExecuteAsync(TxnRequest request)
    {
        // Every key is locked in one global order (ordinal order of grain keys), so transactions
        // never wait on each other in a cycle; Orleans would break such a cycle only by aborts and
        // lock timeouts (10 s). Keys up to the last compared one are locked by reading them, in
        // order, before the branch is chosen. Keys after it are locked by their own ops, still in
        // order, so they cost no extra call. Writers lock exclusively from the first read
        // (useExclusiveLock), so a compare's read is never upgraded to a write lock.
        var compared = request.Compare.Select(c => c.Key.GrainKey).ToHashSet(StringComparer.Ordinal);
        var ordered = request.Compare.Select(c => c.Key.GrainKey)
            .Concat(request.Success.Select(o => o.Key.GrainKey))
            .Concat(request.Failure.Select(o => o.Key.GrainKey))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        var head = ordered.Take(ordered.FindLastIndex(compared.Contains) + 1).ToHashSet(StringComparer.Ordinal);
        var before = await ReadInLockOrderAsync(head);
        var succeeded = request.Compare.All(c => CompareEvaluator.Holds(c, before[c.Key.GrainKey]));

        var ops = succeeded ? request.Success : request.Failure;
        var results = new TxnKeyValue?[ops.Length];
        var groups = ops.Select((op, index) => (op, index)).GroupBy(o => o.op.Key.GrainKey, StringComparer.Ordinal).ToList();

        // Ops on one key run in request order (each sees the ones before). Keys already locked run in
        // parallel; the others take their locks one after the other, in order.
        async Task RunGroupAsync(IEnumerable<(TxnOp Op, int Index)> group)
        {
            foreach (var (op, index) in group)
            {
                results[index] = await RunOpAsync(op);
            }
        }

        async Task RunTailInOrderAsync()
        {
            foreach (var group in groups.Where(g => !head.Contains(g.Key)).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                await RunGroupAsync(group);
            }
        }

        await Task.WhenAll(groups.Where(g => head.Contains(g.Key)).Select(RunGroupAsync).Append(RunTailInOrderAsync()));

        var fenced = Array.FindIndex(results, r => r?.FencedBy is not null);
        if (fenced >= 0)
        {
            var op = ops[fenced];
            return new TxnResult(TxnOutcome.Fenced, succeeded, [], fenced,
                $"Lock '{op.Fence!.Lock}' already wrote to key '{op.Key.Key}' of table '{op.Key.Table}' with token {results[fenced]!.FencedBy}, above {op.Fence.Token}: the holder of {op.Fence.Token} lost the lock. Nothing was changed.");
        }

        var rejected = Array.FindIndex(results, r => r is null);
        if (rejected >= 0)
        {
            return new TxnResult(TxnOutcome.Rejected, succeeded, [], rejected,
                $"Key '{ops[rejected].Key.Key}' of table '{ops[rejected].Key.Table}' holds a value that is not a number (or the sum does not fit); add needs a number.");
        }

        await UpdateIndexesAsync(ops, results!, before);
        return new TxnResult(TxnOutcome.Committed, succeeded, results!);
    }

    // Keys the branch created or deleted, recorded in their shards' indexes, index by index in
    // ordinal order: index locks come after every key lock, in one order too.
    private async Task UpdateIndexesAsync(TxnOp[] ops, TxnKeyValue[] results, Dictionary<string, TxnKeyValue> locked)
    {
        var existedBefore = new Dictionary<string, bool>(StringComparer.Ordinal);
        var existsAfter = new Dictionary<string, bool>(StringComparer.Ordinal);
        for (var i = 0; i < ops.Length; i++)
        {
            var key = ops[i].Key.GrainKey;
            if (!existedBefore.ContainsKey(key))
            {
                // A key not read before the branch: its first op tells. Get and delete answer the key
                // as it was; a put or add that leaves version 1 created it (versions restart at 1).
                existedBefore[key] = locked.TryGetValue(key, out var read)
                    ? read.Exists
                    : ops[i].Kind is TxnOpKind.Get or TxnOpKind.Delete ? results[i].Exists : results[i].Version > 1;
            }

            // A delete answers the key as it was; every other op the key as it is.
            existsAfter[key] = ops[i].Kind != TxnOpKind.Delete && results[i].Exists;
        }

        var changes = existsAfter
            .Where(k => k.Value != existedBefore[k.Key])
            .Select(k =>
            {
                var (tenant, tableId, shard, key) = TxnKeys.ParseKeyGrain(k.Key);
                return (Index: TxnKeys.IndexGrain(tenant, tableId, shard), Key: key, Created: k.Value);
            })
            .GroupBy(c => c.Index, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var index in changes)
        {
            await GrainFactory.GetGrain<ITransactionalKeyIndexGrain>(index.Key).UpdateAsync(
                [.. index.Where(c => c.Created).Select(c => c.Key)],
                [.. index.Where(c => !c.Created).Select(c => c.Key)]);
        }
    }

    // Readers of indexes take their locks in the same order as writers do, one at a time.
    private static IEnumerable<int> IndexLockOrder(string tenant, Guid tableId, int shards) =>
        Enumerable.Range(0, shards).OrderBy(shard => TxnKeys.IndexGrain(tenant, tableId, shard), StringComparer.Ordinal);

    /// <summary>Reads keys one at a time in ordinal order of their grain keys, taking their locks in the global order.</summary>
    private async Task<Dictionary<string, TxnKeyValue>> ReadInLockOrderAsync(IEnumerable<string> grainKeys)
    {
        var values = new Dictionary<string, TxnKeyValue>(StringComparer.Ordinal);
        foreach (var grainKey in grainKeys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            values[grainKey] = await Key(grainKey).ReadAsync();
        }

        return values;
    }

    private Task<TxnKeyValue?> RunOpAsync(TxnOp op)
    {
        var key = Key(op.Key.GrainKey);
        return op.Kind switch
        {
            TxnOpKind.Get => Nullable(key.ReadAsync()),
            TxnOpKind.Put => Nullable(key.PutAsync(op.Value!, op.Fence)),
            TxnOpKind.Delete => Nullable(key.DeleteAsync(op.Fence)),
            _ => JsonNumbers.TryReadDecimal(op.Value!, out var delta)
                ? key.AddAsync(delta, op.Fence)
                : throw new ArgumentException("The Api sends only numbers to add.", nameof(op)),
        };
    }

    private static async Task<TxnKeyValue?> Nullable(Task<TxnKeyValue> task) => await task;

    private ITransactionalKeyGrain Key(string grainKey) => GrainFactory.GetGrain<ITransactionalKeyGrain>(grainKey);

    /// <summary>
    /// Runs <paramref name="body"/> in a new transaction until it commits, the body declines to
    /// commit, the attempts or the time budget run out, or the outcome cannot be known. Only aborts
    /// are retried: an aborted transaction applied nothing, so running it again is safe.
    /// </summary>
    private async Task<(TxnOutcome Outcome, string? Message)> RunWithRetriesAsync(Func<Task<bool>> body, bool exclusive)
    {
        var settings = options.Value;
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            if (RequestDeadline.HasPassed)
            {
                return (TxnOutcome.Unavailable, PastDeadline);
            }

            try
            {
                await transactions.RunTransaction(TransactionOption.Create, body, exclusive);
                return (TxnOutcome.Committed, null);
            }
            catch (OrleansTransactionInDoubtException ex)
            {
                LogInDoubt(ex.TransactionId, ex.Message);
                return (TxnOutcome.OutcomeUnknown, "The transaction's commit started but its outcome could not be learned; it may or may not have been applied.");
            }
            catch (OrleansTransactionException ex) when (ex is OrleansTransactionAbortedException or OrleansTransactionOverloadException
                                                             or OrleansTransactionServiceNotAvailableException or OrleansStartTransactionFailedException)
            {
                var unavailable = IsUnavailable(ex);
                if (attempt >= settings.MaxAttempts || clock.Elapsed >= settings.RetryBudget)
                {
                    LogGaveUp(attempt, ex.GetType().Name, ex.Message);
                    return unavailable
                        ? (TxnOutcome.Unavailable, "Participants of the transaction could not be reached; nothing was applied.")
                        : (TxnOutcome.Conflict, $"The transaction conflicted with concurrent transactions {attempt} times; nothing was applied.");
                }

                // Full jitter: conflicting transactions that retry together would conflict again.
                var ceiling = Math.Min(settings.MaxBackoff.TotalMilliseconds, settings.BaseBackoff.TotalMilliseconds * Math.Pow(2, attempt - 1));
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling));
            }
        }
    }

    private const string PastDeadline = "The request's deadline passed before the transaction could commit; nothing was applied.";

    private static bool IsUnavailable(Exception exception)
    {
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException or OrleansTransactionServiceNotAvailableException)
            {
                return true;
            }
        }

        return exception is OrleansTransactionServiceNotAvailableException or OrleansStartTransactionFailedException;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transaction {TransactionId} is in doubt: {Message}")]
    private partial void LogInDoubt(string transactionId, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transaction gave up after {Attempts} attempts: {Error}: {Message}")]
    private partial void LogGaveUp(int attempts, string error, string message);
}
