using OrleansCompute.Data;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>A list of keys kept in <see cref="KeyOrder"/>: the pure part of a key index leaf.</summary>
public static class SortedKeys
{
    /// <summary>Adds <paramref name="added"/> and drops <paramref name="removed"/>, keeping the order and no duplicates.</summary>
    public static void Apply(List<string> keys, IEnumerable<string> added, IEnumerable<string> removed)
    {
        foreach (var key in added)
        {
            var at = keys.BinarySearch(key, KeyOrder.Instance);
            if (at < 0)
            {
                keys.Insert(~at, key);
            }
        }

        foreach (var key in removed)
        {
            var at = keys.BinarySearch(key, KeyOrder.Instance);
            if (at >= 0)
            {
                keys.RemoveAt(at);
            }
        }
    }

    /// <summary>Up to <paramref name="limit"/> keys with <paramref name="prefix"/> after <paramref name="after"/>, and whether more match.</summary>
    public static TxnIndexPage Page(List<string> keys, string prefix, string? after, int limit)
    {
        var start = 0;
        var from = after is not null && KeyOrder.Instance.Compare(after, prefix) >= 0 ? after : null;
        if (from is not null)
        {
            var at = keys.BinarySearch(from, KeyOrder.Instance);
            start = at >= 0 ? at + 1 : ~at;
        }
        else
        {
            // Keys with a prefix are contiguous in code point order and start where the prefix would.
            var at = keys.BinarySearch(prefix, KeyOrder.Instance);
            start = at >= 0 ? at : ~at;
        }

        var page = new List<string>();
        for (var i = start; i < keys.Count && keys[i].StartsWith(prefix, StringComparison.Ordinal); i++)
        {
            if (page.Count == limit)
            {
                return new TxnIndexPage([.. page], More: true);
            }

            page.Add(keys[i]);
        }

        return new TxnIndexPage([.. page], More: false);
    }

    /// <summary>
    /// Splits a list grown past <paramref name="maxKeys"/>: keeps its first chunk and removes and
    /// returns the others, each a run of at most half of <paramref name="maxKeys"/> (rounded up)
    /// keys in order; empty when the list is small enough.
    /// </summary>
    public static List<string[]> SplitIfOver(List<string> keys, int maxKeys)
    {
        var chunks = new List<string[]>();
        if (keys.Count <= maxKeys)
        {
            return chunks;
        }

        var size = Math.Max(1, (maxKeys + 1) / 2);
        for (var at = size; at < keys.Count; at += size)
        {
            chunks.Add(keys.GetRange(at, Math.Min(size, keys.Count - at)).ToArray());
        }

        keys.RemoveRange(size, keys.Count - size);
        return chunks;
    }
}
