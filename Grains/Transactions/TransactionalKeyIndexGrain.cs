using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Data;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>The committed keys of one shard of a transactional table, kept in key order for scans.</summary>
// Reentrant, as Orleans' transactional grains must be: a call waiting for the key's lock must not
// hold the grain's turn, or the lock's holder could never make its next call here (a coordinator
// locks a key with a read, then writes it). The transactional state's lock, not the turn, isolates
// transactions; this grain keeps no other state. The bank and contention tests cover it.
[Reentrant]
public sealed class TransactionalKeyIndexGrain(
    [TransactionalState("index", StorageNames.Transactional)] ITransactionalState<TransactionalKeyIndexGrain.State> state,
    ILocalSiloDetails silo) : Grain, ITransactionalKeyIndexGrain
{
    public Task UpdateAsync(string[] added, string[] removed) => state.PerformUpdate(s =>
    {
        foreach (var key in added)
        {
            var at = s.Keys.BinarySearch(key, KeyOrder.Instance);
            if (at < 0)
            {
                s.Keys.Insert(~at, key);
            }
        }

        foreach (var key in removed)
        {
            var at = s.Keys.BinarySearch(key, KeyOrder.Instance);
            if (at >= 0)
            {
                s.Keys.RemoveAt(at);
            }
        }
    });

    public Task<TxnIndexPage> ListAsync(string prefix, string? after, int limit) => state.PerformRead(s =>
    {
        var start = 0;
        if (after is not null)
        {
            var at = s.Keys.BinarySearch(after, KeyOrder.Instance);
            start = at >= 0 ? at + 1 : ~at;
        }

        var keys = new List<string>();
        for (var i = start; i < s.Keys.Count; i++)
        {
            var key = s.Keys[i];
            if (!key.StartsWith(prefix, StringComparison.Ordinal))
            {
                // Keys with a prefix are contiguous in code point order; once past them, nothing more matches.
                if (KeyOrder.Instance.Compare(key, prefix) > 0)
                {
                    break;
                }

                continue;
            }

            if (keys.Count == limit)
            {
                return new TxnIndexPage([.. keys], More: true);
            }

            keys.Add(key);
        }

        return new TxnIndexPage([.. keys], More: false);
    });

    public Task<int> CountAsync() => state.PerformRead(s => s.Keys.Count);

    public Task<string> SiloAsync() => Task.FromResult(silo.SiloAddress.ToParsableString());

    /// <summary>The shard's committed keys in <see cref="KeyOrder"/>.</summary>
    [GenerateSerializer, Alias("oc.TransactionalKeyIndexGrain.State")]
    public sealed class State
    {
        [Id(0)] public List<string> Keys { get; set; } = [];
    }
}
