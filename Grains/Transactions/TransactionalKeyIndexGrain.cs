using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Data;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>
/// The committed keys of one shard of a transactional table, for scans: a one-level tree whose
/// leaves (<see cref="TransactionalKeyLeafGrain"/>) hold the keys of consecutive key ranges.
/// A create or delete rewrites the one leaf its key falls in; this grain's own state, where each
/// leaf's range starts, changes only when a leaf grows past <see cref="KeyIndexOptions.LeafKeys"/>
/// and splits, so the cost of a write does not grow with the shard.
/// </summary>
// Reentrant, as Orleans' transactional grains must be: a call waiting for the key's lock must not
// hold the grain's turn, or the lock's holder could never make its next call here (a coordinator
// locks a key with a read, then writes it). The transactional state's lock, not the turn, isolates
// transactions. Writing transactions take exclusive locks from the first read, so a writer holds
// this grain's lock before it touches any leaf, and a reader takes it (shared) before reading
// leaves: leaves are never locked in an order that could deadlock. The bank and contention tests
// cover it.
[Reentrant]
public sealed class TransactionalKeyIndexGrain(
    [TransactionalState("index", StorageNames.Transactional)] ITransactionalState<TransactionalKeyIndexGrain.State> state,
    IOptions<KeyIndexOptions> options,
    ILocalSiloDetails silo) : Grain, ITransactionalKeyIndexGrain
{
    private int LeafKeys => Math.Max(2, options.Value.LeafKeys);

    public async Task UpdateAsync(string[] added, string[] removed)
    {
        var (leaves, unsplit) = await ReadAsync();
        if (unsplit is not null)
        {
            leaves = await MoveIntoLeavesAsync(unsplit);
        }

        var changes = added.Select(key => (Key: key, Added: true)).Concat(removed.Select(key => (Key: key, Added: false)))
            .GroupBy(change => LeafOf(leaves, change.Key))
            .OrderBy(group => group.Key);
        var split = new List<string[]>();
        foreach (var leaf in changes)
        {
            split.AddRange(await Leaf(leaves[leaf.Key].Leaf).UpdateAsync(
                [.. leaf.Where(c => c.Added).Select(c => c.Key)], [.. leaf.Where(c => !c.Added).Select(c => c.Key)], LeafKeys));
        }

        if (split.Count > 0)
        {
            await AddLeavesAsync(split);
        }
    }

    public async Task<TxnIndexPage> ListAsync(string prefix, string? after, int limit)
    {
        var (leaves, unsplit) = await ReadAsync();
        if (unsplit is not null)
        {
            return SortedKeys.Page(unsplit, prefix, after, limit);
        }

        var from = after is not null && KeyOrder.Instance.Compare(after, prefix) > 0 ? after : prefix;
        var keys = new List<string>();
        var more = false;
        for (var i = LeafOf(leaves, from); i < leaves.Count && keys.Count <= limit; i++)
        {
            // Keys with the prefix are contiguous: a leaf that starts past them holds none.
            if (KeyOrder.Instance.Compare(leaves[i].From, prefix) > 0 && !leaves[i].From.StartsWith(prefix, StringComparison.Ordinal))
            {
                break;
            }

            var page = await Leaf(leaves[i].Leaf).ListAsync(prefix, after, limit + 1 - keys.Count);
            keys.AddRange(page.Keys);
            more = page.More;
        }

        return new TxnIndexPage([.. keys.Take(limit)], more || keys.Count > limit);
    }

    public async Task<int> CountAsync()
    {
        var (leaves, unsplit) = await ReadAsync();
        if (unsplit is not null)
        {
            return unsplit.Count;
        }

        var count = 0;
        foreach (var leaf in leaves)
        {
            count += await Leaf(leaf.Leaf).CountAsync();
        }

        return count;
    }

    public Task<string> SiloAsync() => Task.FromResult(silo.SiloAddress.ToParsableString());

    /// <summary>Where each leaf starts, and the keys of an index written before it had leaves (null when it has them).</summary>
    private Task<(List<LeafStart> Leaves, List<string>? Unsplit)> ReadAsync() => state.PerformRead(s =>
        (s.Leaves.Count == 0 ? [new LeafStart("", 0)] : s.Leaves.ToList(), s.Keys.Count > 0 ? s.Keys.ToList() : null));

    /// <summary>The position in <paramref name="leaves"/> of the leaf whose range holds <paramref name="key"/>.</summary>
    public static int LeafOf(List<LeafStart> leaves, string key)
    {
        int low = 0, high = leaves.Count - 1;
        while (low < high)
        {
            var middle = (low + high + 1) / 2;
            if (KeyOrder.Instance.Compare(leaves[middle].From, key) <= 0)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return low;
    }

    // An index from before leaves kept every key in its own state: the first write moves them into leaves.
    private async Task<List<LeafStart>> MoveIntoLeavesAsync(List<string> keys)
    {
        var runs = SortedKeys.SplitIfOver(keys, LeafKeys);
        await Leaf(0).UpdateAsync([.. keys], [], LeafKeys);
        return await AddLeavesAsync(runs);
    }

    // New leaves for runs split off full ones; every run starts a range of its own.
    private async Task<List<LeafStart>> AddLeavesAsync(List<string[]> runs)
    {
        var (leaves, created) = await state.PerformUpdate(s =>
        {
            s.Keys.Clear();
            if (s.Leaves.Count == 0)
            {
                s.Leaves.Add(new LeafStart("", 0));
            }

            var created = new List<(int Leaf, string[] Keys)>();
            foreach (var run in runs)
            {
                var leaf = new LeafStart(run[0], s.NextLeaf++);
                s.Leaves.Insert(LeafOf(s.Leaves, run[0]) + 1, leaf);
                created.Add((leaf.Leaf, run));
            }

            return (s.Leaves.ToList(), created);
        });
        foreach (var (leaf, keys) in created)
        {
            await Leaf(leaf).UpdateAsync(keys, [], LeafKeys);
        }

        return leaves;
    }

    private ITransactionalKeyLeafGrain Leaf(int leaf) =>
        GrainFactory.GetGrain<ITransactionalKeyLeafGrain>(TxnKeys.LeafGrain(this.GetPrimaryKeyString(), leaf));

    /// <summary>Where one leaf's key range starts; it ends where the next one's starts.</summary>
    [GenerateSerializer, Immutable, Alias("oc.TransactionalKeyIndexGrain.LeafStart")]
    public sealed record LeafStart(string From, int Leaf);

    /// <summary>The shard's leaves in key order; <see cref="Keys"/> only in an index written before it had leaves.</summary>
    [GenerateSerializer, Alias("oc.TransactionalKeyIndexGrain.State")]
    public sealed class State
    {
        /// <summary>Every key of the shard, as the index kept them before it had leaves; emptied by its first write.</summary>
        [Id(0)] public List<string> Keys { get; set; } = [];

        /// <summary>Where each leaf starts, in key order; empty means one leaf (0) holding everything.</summary>
        [Id(1)] public List<LeafStart> Leaves { get; set; } = [];

        /// <summary>The number of the next leaf to create.</summary>
        [Id(2)] public int NextLeaf { get; set; } = 1;
    }
}
