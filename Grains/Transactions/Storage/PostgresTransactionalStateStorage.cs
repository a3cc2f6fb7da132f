using System.Globalization;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.Transactions.Abstractions;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>
/// Transactional state of one participant as one row of <c>oc_txn_state</c>. Every Store is a
/// single compare-and-set of the whole row on its ETag, handed to <see cref="TransactionalStateWriter"/>,
/// which commits the Stores of many participants together. For a transactional key
/// (<paramref name="watched"/>), the Store that commits transactions also hands the writer their
/// changes, which it logs for watch in the same PostgreSQL transaction as the row.
/// </summary>
public sealed class PostgresTransactionalStateStorage<TState>(
    string grainId, string stateName, TransactionalStateWriter writer, Serializer serializer, WatchedKey? watched = null, KeyLogWatermark? watermark = null) : ITransactionalStateStorage<TState>
    where TState : class, new()
{
    // The last durable version of the row, and its ETag (null: not loaded yet).
    private StoredTransactionalState<TState> _stored = new();
    private long? _etag;

    public async Task<TransactionalStorageLoadResponse<TState>> Load()
    {
        // The load fences off every Store sent before it, also those whose answer was lost: what it
        // reads stays the row's state until this storage writes (TransactionalStateWriter.LoadAsync).
        var found = await writer.LoadAsync(grainId, stateName);
        _etag = found.ETag;
        var fresh = found.Record.Length == 0;
        _stored = fresh
            ? new()
            : serializer.Deserialize<StoredTransactionalState<TState>>(found.Record)
              ?? throw new InvalidOperationException($"The transactional state row of {grainId} ({stateName}) does not deserialize.");
        // The row's revision is that of its committed state's last change (015_txn_key_revision.sql).
        Logged(fresh ? [] : [(Committed(_stored), found.Revision ?? 0)]);
        return new TransactionalStorageLoadResponse<TState>(
            ETagText(found.ETag), _stored.CommittedState, _stored.CommittedSequenceId, _stored.Metadata, _stored.PendingStates);
    }

    public async Task<string> Store(
        string? expectedETag, TransactionalStateMetaData metadata, List<PendingTransactionState<TState>>? statesToPrepare, long? commitUpTo, long? abortAfter)
    {
        if (expectedETag != ETagText(_etag))
        {
            throw new InconsistentStateException("The transactional state changed since it was loaded.", expectedETag ?? "", ETagText(_etag) ?? "");
        }

        var loaded = _etag ?? throw new InvalidOperationException($"The transactional state of {grainId} ({stateName}) was stored before it was loaded.");
        var next = _stored.Apply(metadata, statesToPrepare, commitUpTo, abortAfter);
        var changes = watched is null ? [] : ChangesOf(next);
        var (etag, revision) = await writer.WriteAsync(grainId, stateName, loaded, serializer.SerializeToArray(next), watched, changes);
        _stored = next;
        _etag = etag;
        // One Store's changes take consecutive revisions of their shard, in order, the last one
        // the row's (TransactionalStateWriter).
        Logged(revision is { } last ? changes.Select((c, i) => (c.Number, last - (changes.Count - 1 - i))) : []);
        return ETagText(etag)!;
    }

    // The changes this Store commits: those the newest committed state carries beyond the state
    // committed before. Orleans may commit several transactions in one Store, dropping the states
    // in between, which is why the state carries its unlogged changes (IWatchedKeyState).
    private List<KeyChange> ChangesOf(StoredTransactionalState<TState> next)
    {
        // Only a Store that moves the committed state on commits changes; each is committed
        // exactly once, by the one Store whose compare-and-set moves the row past it.
        if (next.CommittedSequenceId == _stored.CommittedSequenceId)
        {
            return [];
        }

        var before = ((IWatchedKeyState)_stored.CommittedState).Changes;
        var after = (IWatchedKeyState)next.CommittedState;
        var changes = (after.Unlogged ?? []).Where(c => c.Number > before).OrderBy(c => c.Number).ToList();
        if (changes.Count != after.Changes - before)
        {
            // Cannot happen while the grain trims only what is logged; refusing keeps the log whole.
            throw new InvalidOperationException($"Transactional key {grainId}: changes {before + 1}..{after.Changes} to log, {changes.Count} carried.");
        }

        return changes;
    }

    // Every change of the durable committed state is in the log: the grain may stop carrying them,
    // and the revisions of those this call learned can be answered.
    private void Logged(IEnumerable<(long Number, long Revision)> revisions)
    {
        watermark?.Logged(Committed(_stored), revisions);
    }

    private static long Committed(StoredTransactionalState<TState> stored) =>
        stored.CommittedState is IWatchedKeyState state ? state.Changes : 0;

    private static string? ETagText(long? etag) => etag?.ToString(CultureInfo.InvariantCulture);
}
