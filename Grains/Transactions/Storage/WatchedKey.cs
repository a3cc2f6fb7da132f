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
/// durable in the change log. The grain drops those from <see cref="IWatchedKeyState.Unlogged"/>
/// when it next changes the key, so the list holds only changes still on their way.
/// </summary>
public sealed class KeyLogWatermark
{
    private long _loggedThrough;

    public long LoggedThrough
    {
        get => Volatile.Read(ref _loggedThrough);
        set => Volatile.Write(ref _loggedThrough, value);
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
