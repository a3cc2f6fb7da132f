using Orleans.Concurrency;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Data;
using OrleansCompute.Grains.Transactions.Storage;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>
/// One key of a transactional table. Its value lives in <see cref="ITransactionalState{TState}"/>,
/// so every change is part of the caller's transaction and durable once that commits. The
/// coordinator, not this grain, records creates and deletes in the shard's key index, after it
/// holds every key's lock, so all transactions take their locks in one order. The highest fencing
/// token per lock that wrote to the key is part of the same state, so it commits or aborts with the write.
/// </summary>
// Reentrant, as Orleans' transactional grains must be: a call waiting for the key's lock must not
// hold the grain's turn, or the lock's holder could never make its next call here (a coordinator
// locks a key with a read, then writes it). The transactional state's lock, not the turn, isolates
// transactions; this grain keeps no other state. The bank and contention tests cover it.
[Reentrant]
public sealed class TransactionalKeyGrain(
    [TransactionalState("key", StorageNames.Transactional)] ITransactionalState<TransactionalKeyGrain.State> state) : Grain, ITransactionalKeyGrain
{
    /// <summary>The longest <see cref="RevisionsAsync"/> waits for a committed change to be logged.</summary>
    public static readonly TimeSpan RevisionWait = TimeSpan.FromSeconds(2);

    // A read holds the key's lock, so no later change can be logged meanwhile: the revision it
    // answers is that of the change it read, or null when that change is not logged yet.
    public Task<TxnKeyValue> ReadAsync() => state.PerformRead(s => Current(s) with { Revision = Watermark.RevisionOf(s.Changes) });

    // The caller's wait is clamped: a bad or huge value must not hold a call for long.
    public async Task<long[]> RevisionsAsync(long[] changes, TimeSpan wait) =>
        await Task.WhenAll(changes.Select(change => Watermark.RevisionOfAsync(change, wait < RevisionWait ? wait : RevisionWait)));

    public Task<TxnKeyValue> PutAsync(byte[] value, KvFence? fence = null) => state.PerformUpdate(s =>
    {
        if (Stale(s, fence) is { } refused)
        {
            return refused;
        }

        s.Value = value;
        s.Version++;
        Changed(s, s.Version);
        return Current(s);
    });

    public Task<TxnKeyValue> DeleteAsync(KvFence? fence = null) => state.PerformUpdate(s =>
    {
        if (Stale(s, fence) is { } refused)
        {
            return refused;
        }

        var was = Current(s);
        if (s.Value is not null)
        {
            // Deleting an absent key changes nothing, and watch shows nothing for it.
            s.Value = null;
            s.Version = 0;
            Changed(s, was.Version);
        }

        // The key as it was, and the change the delete left it at.
        return was with { Change = s.Changes, Revision = Pending(s) };
    });

    public Task<TxnKeyValue?> AddAsync(decimal delta, KvFence? fence = null) => state.PerformUpdate(s =>
    {
        if (Stale(s, fence) is { } refused)
        {
            return refused;
        }

        if (!JsonNumbers.TryAdd(s.Value, delta, out var sum))
        {
            return null;
        }

        s.Value = sum;
        s.Version++;
        Changed(s, s.Version);
        return (TxnKeyValue?)Current(s);
    });

    // A fenced write with a token below the key's highest for its lock is refused; otherwise the
    // token becomes the highest (in this transaction's state: kept only if the write commits).
    // The caller (the coordinator) aborts the transaction when an op is refused.
    private TxnKeyValue? Stale(State s, KvFence? fence)
    {
        if (fence is null)
        {
            return null;
        }

        s.Fences ??= new Dictionary<string, long>(StringComparer.Ordinal);
        if (s.Fences.TryGetValue(fence.Lock, out var highest) && highest > fence.Token)
        {
            return Current(s) with { FencedBy = highest };
        }

        s.Fences[fence.Lock] = fence.Token;
        return null;
    }

    // Watch: the change travels in the state until a commit logs it (IWatchedKeyState). Changes
    // already durable in the log are dropped here, so the list holds only those on their way.
    private void Changed(State s, long version)
    {
        var logged = Watermark.LoggedThrough;
        s.Changes++;
        s.Unlogged = [.. (s.Unlogged ?? []).Where(c => c.Number > logged), new KeyChange(s.Changes, s.Value, version)];
    }

    private KeyLogWatermark Watermark => KeyLogWatermark.Of(GrainContext);

    // A write's own change is logged only once its transaction commits: the coordinator asks for
    // its revision then (RevisionsAsync). Without a storage that logs, there is none to ask for.
    private long? Pending(State s) => Watermark.Tracks && s.Changes > 0 ? null : 0;

    // Writes answer the change they left the key at, its revision still to come.
    private TxnKeyValue Current(State s) => (s.Value is null ? TxnKeyValue.Absent : new(s.Value, s.Version)) with { Change = s.Changes, Revision = Pending(s) };

    /// <summary>The key's value (JSON text, null when absent) and version (0 when absent).</summary>
    [GenerateSerializer, Alias("oc.TransactionalKeyGrain.State")]
    public sealed class State : IWatchedKeyState
    {
        [Id(0)] public byte[]? Value { get; set; }

        [Id(1)] public long Version { get; set; }

        /// <summary>Per lock, the highest fencing token that wrote to the key; kept when the key is deleted.</summary>
        [Id(2)] public Dictionary<string, long>? Fences { get; set; }

        /// <summary>How many changes the key ever had; a delete does not reset it.</summary>
        [Id(3)] public long Changes { get; set; }

        /// <summary>Changes not yet known to be in the change log, oldest first.</summary>
        [Id(4)] public List<KeyChange>? Unlogged { get; set; }

        IReadOnlyList<KeyChange>? IWatchedKeyState.Unlogged => Unlogged;
    }
}
