using System.Globalization;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.Transactions.Abstractions;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>
/// Transactional state of one participant as one row of <c>oc_txn_state</c>. Every Store is a
/// single compare-and-set of the whole row on its ETag, handed to <see cref="TransactionalStateWriter"/>,
/// which commits the Stores of many participants together.
/// </summary>
public sealed class PostgresTransactionalStateStorage<TState>(
    string grainId, string stateName, TransactionalStateWriter writer, Serializer serializer) : ITransactionalStateStorage<TState>
    where TState : class, new()
{
    // The last durable version of the row, and its ETag (null: no row yet).
    private StoredTransactionalState<TState> _stored = new();
    private long? _etag;

    public async Task<TransactionalStorageLoadResponse<TState>> Load()
    {
        var row = await writer.LoadAsync(grainId, stateName);
        if (row is not { } found)
        {
            _stored = new();
            _etag = null;
            return new TransactionalStorageLoadResponse<TState>();
        }

        _stored = serializer.Deserialize<StoredTransactionalState<TState>>(found.Record)
            ?? throw new InvalidOperationException($"The transactional state row of {grainId} ({stateName}) is empty.");
        _etag = found.ETag;
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

        var next = _stored.Apply(metadata, statesToPrepare, commitUpTo, abortAfter);
        var etag = await writer.WriteAsync(grainId, stateName, _etag, serializer.SerializeToArray(next));
        _stored = next;
        _etag = etag;
        return ETagText(etag)!;
    }

    private static string? ETagText(long? etag) => etag?.ToString(CultureInfo.InvariantCulture);
}
