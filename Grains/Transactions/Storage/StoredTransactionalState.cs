using Orleans.Transactions.Abstractions;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>
/// Everything one transactional participant keeps durable, as one row: the committed state, the
/// prepared states not yet committed, and the transaction metadata (commit records of the
/// transactions it manages). Written whole, so a row is always one coherent recoverable snapshot.
/// </summary>
[GenerateSerializer, Alias("oc.StoredTransactionalState`1")]
public sealed class StoredTransactionalState<TState>
    where TState : class, new()
{
    [Id(0)] public long CommittedSequenceId { get; set; }

    [Id(1)] public TState CommittedState { get; set; } = new();

    [Id(2)] public TransactionalStateMetaData Metadata { get; set; } = new();

    [Id(3)] public List<PendingTransactionState<TState>> PendingStates { get; set; } = [];

    /// <summary>
    /// The row after one Store call: drops aborted prepares, adds or replaces prepares by sequence
    /// number, and advances the committed state through <paramref name="commitUpTo"/>.
    /// </summary>
    public StoredTransactionalState<TState> Apply(
        TransactionalStateMetaData metadata, List<PendingTransactionState<TState>>? statesToPrepare, long? commitUpTo, long? abortAfter)
    {
        var pending = new List<PendingTransactionState<TState>>(PendingStates);
        if (abortAfter is { } last)
        {
            pending.RemoveAll(p => p.SequenceId > last);
        }

        foreach (var prepare in statesToPrepare ?? [])
        {
            var at = pending.FindIndex(p => p.SequenceId >= prepare.SequenceId);
            if (at < 0)
            {
                pending.Add(prepare);
            }
            else if (pending[at].SequenceId == prepare.SequenceId)
            {
                pending[at] = prepare;
            }
            else
            {
                pending.Insert(at, prepare);
            }
        }

        var next = new StoredTransactionalState<TState>
        {
            CommittedSequenceId = CommittedSequenceId,
            CommittedState = CommittedState,
            Metadata = metadata,
            PendingStates = pending,
        };
        if (commitUpTo is { } upTo && upTo > CommittedSequenceId)
        {
            var at = pending.FindIndex(p => p.SequenceId == upTo);
            if (at < 0)
            {
                // Committing a transaction whose prepare is not durable would lose it: refuse, loudly.
                throw new InvalidOperationException($"No prepared state with sequence id {upTo} to commit; the stored state is inconsistent.");
            }

            next.CommittedSequenceId = upTo;
            next.CommittedState = pending[at].State;
            // Every prepare up to upTo commits with it (an abort drops the later ones, above).
            pending.RemoveRange(0, at + 1);
        }

        return next;
    }
}
