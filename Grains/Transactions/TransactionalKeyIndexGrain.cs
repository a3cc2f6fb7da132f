using Orleans.Transactions.Abstractions;
using OrleansCompute.Data;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>The committed keys of one shard of a transactional table, kept in key order for scans.</summary>
public sealed class TransactionalKeyIndexGrain(
    [TransactionalState("index", StorageNames.Transactional)] ITransactionalState<TransactionalKeyIndexGrain.State> state) : Grain, ITransactionalKeyIndexGrain
{
    public Task AddAsync(string key) => state.PerformUpdate(s =>
    {
        var at = s.Keys.BinarySearch(key, KeyOrder.Instance);
        if (at < 0)
        {
            s.Keys.Insert(~at, key);
        }
    });

    public Task RemoveAsync(string key) => state.PerformUpdate(s =>
    {
        var at = s.Keys.BinarySearch(key, KeyOrder.Instance);
        if (at >= 0)
        {
            s.Keys.RemoveAt(at);
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

    /// <summary>The shard's committed keys in <see cref="KeyOrder"/>.</summary>
    [GenerateSerializer, Alias("oc.TransactionalKeyIndexGrain.State")]
    public sealed class State
    {
        [Id(0)] public List<string> Keys { get; set; } = [];
    }
}
