using OrleansCompute.Data;

namespace OrleansCompute.Grains.Data.Watch;

/// <summary>
/// A shard's most recent changes in memory, oldest first, at most a fixed number: the ring that
/// answers watchers who keep up. <see cref="CoversAfter"/> is the revision above which it holds
/// every change the shard made since it opened; anything older is read from the change log.
/// Changes also leave it once older than the retention (<see cref="TrimOlderThan"/>), so memory
/// never answers a cursor the change log would call compacted.
/// Not thread-safe: it lives on the shard grain's scheduler.
/// </summary>
public sealed class ChangeTail(int capacity)
{
    private readonly KvChange[] _ring = new KvChange[Math.Max(1, capacity)];
    private readonly long[] _at = new long[Math.Max(1, capacity)];
    private int _start;
    private int _count;

    /// <summary>Every change with a revision above this is held (from the shard's opening revision on).</summary>
    public long CoversAfter { get; private set; }

    /// <summary>Starts empty at <paramref name="revision"/>: the shard's durable revision when it opened.</summary>
    public void Reset(long revision)
    {
        (_start, _count, CoversAfter) = (0, 0, revision);
        Array.Clear(_ring);
        Array.Clear(_at);
    }

    /// <summary>Adds a change made at <paramref name="at"/> (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public void Append(KvChange change, long at)
    {
        if (_count == _ring.Length)
        {
            CoversAfter = _ring[_start].Revision;
            (_ring[_start], _at[_start]) = (change, at);
            _start = (_start + 1) % _ring.Length;
            return;
        }

        var slot = (_start + _count) % _ring.Length;
        (_ring[slot], _at[slot]) = (change, at);
        _count++;
    }

    /// <summary>Forgets the changes made before <paramref name="cutoff"/> (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public void TrimOlderThan(long cutoff)
    {
        while (_count > 0 && _at[_start] < cutoff)
        {
            CoversAfter = _ring[_start].Revision;
            _ring[_start] = null!;
            _start = (_start + 1) % _ring.Length;
            _count--;
        }
    }

    /// <summary>True when every change after <paramref name="after"/> is held here.</summary>
    public bool Covers(long after) => after >= CoversAfter;

    /// <summary>Up to <paramref name="limit"/> held changes with revisions above <paramref name="after"/>, oldest first.</summary>
    public List<KvChange> After(long after, int limit)
    {
        // Revisions increase along the ring: find the first above `after` by binary search.
        int low = 0, high = _count;
        while (low < high)
        {
            var mid = (low + high) / 2;
            if (At(mid).Revision <= after)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        var result = new List<KvChange>(Math.Min(limit, _count - low));
        for (var i = low; i < _count && result.Count < limit; i++)
        {
            result.Add(At(i));
        }

        return result;
    }

    private KvChange At(int index) => _ring[(_start + index) % _ring.Length];
}
