using Orleans.Concurrency;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>The committed keys of one key range of a shard (see <see cref="ITransactionalKeyLeafGrain"/>).</summary>
// Reentrant for the same reason as the index: the transactional state's lock isolates transactions.
[Reentrant]
public sealed class TransactionalKeyLeafGrain(
    [TransactionalState("leaf", StorageNames.Transactional)] ITransactionalState<TransactionalKeyLeafGrain.State> state)
    : Grain, ITransactionalKeyLeafGrain
{
    public Task<string[][]> UpdateAsync(string[] added, string[] removed, int maxKeys) => state.PerformUpdate(s =>
    {
        SortedKeys.Apply(s.Keys, added, removed);
        return SortedKeys.SplitIfOver(s.Keys, maxKeys).ToArray();
    });

    public Task<TxnIndexPage> ListAsync(string prefix, string? after, int limit) =>
        state.PerformRead(s => SortedKeys.Page(s.Keys, prefix, after, limit));

    public Task<int> CountAsync() => state.PerformRead(s => s.Keys.Count);

    /// <summary>The leaf's keys in key order.</summary>
    [GenerateSerializer, Alias("oc.TransactionalKeyLeafGrain.State")]
    public sealed class State
    {
        [Id(0)] public List<string> Keys { get; set; } = [];
    }
}
