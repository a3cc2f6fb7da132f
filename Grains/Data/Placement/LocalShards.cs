using System.Collections.Concurrent;

namespace OrleansCompute.Grains.Data.Placement;

/// <summary>
/// The shard activations on this silo, and whether the silo is draining (handing its shards to
/// the others before it stops). Shards register themselves; the rebalancer and the placement
/// director read it.
/// </summary>
public sealed class LocalShards
{
    private readonly ConcurrentDictionary<string, byte> _shards = new(StringComparer.Ordinal);
    private int _movesInFlight;
    private long _movesCompleted;

    /// <summary>True once the silo started stopping: placement then never picks it.</summary>
    public bool Draining { get; set; }

    /// <summary>The grain keys of the shards active here.</summary>
    public ICollection<string> Keys => _shards.Keys;

    /// <summary>Moves this silo has started and not yet seen land.</summary>
    public int MovesInFlight => Volatile.Read(ref _movesInFlight);

    /// <summary>Moves this silo started that landed on another silo, since it started.</summary>
    public long MovesCompleted => Interlocked.Read(ref _movesCompleted);

    public void CountCompletedMove() => Interlocked.Increment(ref _movesCompleted);

    public void Add(string shardKey) => _shards.TryAdd(shardKey, 0);

    public void Remove(string shardKey) => _shards.TryRemove(shardKey, out _);

    /// <summary>Counts a move for as long as the returned scope lives.</summary>
    public IDisposable TrackMove()
    {
        Interlocked.Increment(ref _movesInFlight);
        return new MoveScope(this);
    }

    private sealed class MoveScope(LocalShards owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._movesInFlight);
            }
        }
    }
}
