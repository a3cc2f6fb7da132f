using System.Diagnostics;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>
/// The state of a transactional key as watch sees it: how many changes it ever had
/// (<see cref="Changes"/>, never reset, not even by a delete), and the changes not yet known to be
/// in the change log, oldest first. The log cannot be fed from committed states alone: Orleans
/// writes one Store for several transactions committed in a row and drops the states in between,
/// so each change travels in the state until a commit logs it.
/// </summary>
public interface IWatchedKeyState
{
    long Changes { get; }

    IReadOnlyList<KeyChange>? Unlogged { get; }
}

/// <summary>
/// Shared by a key grain's activation and its storage: the number of the key's changes that are
/// durable in the change log, and the revisions the log gave the latest of them. The grain drops
/// logged changes from <see cref="IWatchedKeyState.Unlogged"/> when it next changes the key, so the
/// list holds only changes still on their way; and it answers the revision of the change a read
/// or write left the key at from here (docs/coordination.md, "Transactional tables").
/// </summary>
public sealed class KeyLogWatermark
{
    /// <summary>How many of the latest changes' revisions are kept, for answers that come late.</summary>
    public const int Window = 64;

    private readonly Lock _lock = new();
    private readonly Dictionary<long, long> _revisions = [];
    private readonly Queue<long> _order = new();
    private TaskCompletionSource _moved = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _loggedThrough;

    public long LoggedThrough
    {
        get { lock (_lock) { return _loggedThrough; } }
    }

    /// <summary>
    /// True once a storage that logs changes serves the key: only then do revisions come. Other
    /// storages (the grain-storage bridge, embedded mode) log nothing, and every answer has none.
    /// </summary>
    public bool Tracks { get; private set; }

    /// <summary>Said by a storage that logs the key's changes, when it is made.</summary>
    public KeyLogWatermark Tracked()
    {
        Tracks = true;
        return this;
    }

    /// <summary>
    /// The key's changes through <paramref name="through"/> are in the log, <paramref name="revisions"/>
    /// (number, revision) being some of them; a revision of 0 means the change has none (it was
    /// logged before revisions were stored with the state).
    /// </summary>
    public void Logged(long through, IEnumerable<(long Number, long Revision)> revisions)
    {
        TaskCompletionSource moved;
        lock (_lock)
        {
            foreach (var (number, revision) in revisions)
            {
                if (_revisions.TryAdd(number, revision))
                {
                    _order.Enqueue(number);
                }
                else
                {
                    _revisions[number] = revision;
                }
            }

            while (_order.Count > Window)
            {
                _revisions.Remove(_order.Dequeue());
            }

            _loggedThrough = through;
            moved = _moved;
            _moved = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        moved.TrySetResult();
    }

    /// <summary>
    /// The revision of the key's change number <paramref name="change"/>: 0 when the key never
    /// changed, nothing is tracked, or the change's revision is unknown (logged before revisions
    /// were stored, or too long ago to be held); null while the change is not yet in the log.
    /// </summary>
    public long? RevisionOf(long change)
    {
        if (change <= 0 || !Tracks)
        {
            return 0;
        }

        lock (_lock)
        {
            return _revisions.TryGetValue(change, out var revision) ? revision
                : change > _loggedThrough ? null
                : 0;
        }
    }

    /// <summary>
    /// <see cref="RevisionOf"/>, waiting up to <paramref name="wait"/> for the change to be logged
    /// (a committed change is logged by its key's next Store, which may come after the commit's
    /// answer); 0 if it is not by then.
    /// </summary>
    public async Task<long> RevisionOfAsync(long change, TimeSpan wait)
    {
        var started = Stopwatch.GetTimestamp(); // monotonic: a wall-clock step neither ends nor stretches the wait
        while (true)
        {
            Task moved;
            lock (_lock)
            {
                moved = _moved.Task;
            }

            if (RevisionOf(change) is { } known)
            {
                return known;
            }

            var left = wait - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return 0;
            }

            try
            {
                await moved.WaitAsync(left);
            }
            catch (TimeoutException)
            {
                // Looked at once more above, then answered 0.
            }
        }
    }

    public static KeyLogWatermark Of(IGrainContext context)
    {
        if (context.GetComponent<KeyLogWatermark>() is { } existing)
        {
            return existing;
        }

        var created = new KeyLogWatermark();
        context.SetComponent(created);
        return created;
    }
}

/// <summary>
/// Which key of which transactional table's shard a participant's state is, read from its grain
/// key (<see cref="TxnKeys.KeyGrain(string, Guid, int, string)"/>): where its commits are logged.
/// </summary>
public sealed record WatchedKey(string Tenant, Guid TableId, int Shard, string Key)
{
    /// <summary>The key grain's identity, or null for a grain that is not a transactional key.</summary>
    public static WatchedKey? Of<TState>(IGrainContext context)
    {
        if (!typeof(IWatchedKeyState).IsAssignableFrom(typeof(TState)))
        {
            return null;
        }

        var (tenant, tableId, shard, key) = TxnKeys.ParseKeyGrain(context.GrainId.Key.ToString()!);
        return new WatchedKey(tenant, tableId, shard, key);
    }

    /// <summary>The feed grain of the key's shard (the key index's key, another grain type).</summary>
    public string FeedGrain => TxnKeys.IndexGrain(Tenant, TableId, Shard);
}

/// <summary>
/// One change of a key, for the change log: its number among the key's changes
/// (<see cref="IWatchedKeyState.Changes"/>), the value after it (null: deleted) and the version
/// (for a delete, the version deleted, as plain tables log it).
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.KeyChange")]
public sealed record KeyChange([property: Id(0)] long Number, [property: Id(1)] byte[]? Value, [property: Id(2)] long Version);
