namespace OrleansCompute.Data;

/// <summary>What an operation on one key does.</summary>
[GenerateSerializer, Alias("oc.KvOpKind")]
public enum KvOpKind
{
    /// <summary>Reads the key's value and version.</summary>
    Get,

    /// <summary>Writes the key, creating it or replacing its value.</summary>
    Put,

    /// <summary>Removes the key.</summary>
    Delete,
}

/// <summary>
/// One operation on one key. <see cref="IfVersion"/> makes a write conditional on the current
/// version; <see cref="IfAbsent"/> makes a put create-only; <see cref="IfExists"/> makes a write
/// require the key. <see cref="Value"/> is the exact JSON text of a put, as UTF-8.
/// <see cref="Fence"/> makes a write fenced: refused when the lock already wrote to the key with a higher token.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.KvOp")]
public sealed record KvOp(
    KvOpKind Kind,
    string Key,
    byte[]? Value = null,
    long? IfVersion = null,
    bool IfAbsent = false,
    bool IfExists = false,
    int? TtlSeconds = null,
    KvFence? Fence = null);

/// <summary>A fencing token of a lock (by name, in the table's tenant), as a fenced write carries it.</summary>
[GenerateSerializer, Immutable, Alias("oc.KvFence")]
public sealed record KvFence(string Lock, long Token);

/// <summary>How an operation ended.</summary>
[GenerateSerializer, Alias("oc.KvStatus")]
public enum KvStatus
{
    /// <summary>A get found the key, or a put replaced it.</summary>
    Ok,

    /// <summary>A put created the key.</summary>
    Created,

    /// <summary>A delete removed the key.</summary>
    Deleted,

    /// <summary>The key does not exist (or has expired).</summary>
    NotFound,

    /// <summary>A condition did not hold; nothing changed.</summary>
    PreconditionFailed,

    /// <summary>The table was dropped; nothing changed.</summary>
    TableNotFound,

    /// <summary>The shard's keys moved to other shards (the table is resharding); nothing changed. Route again and retry.</summary>
    Moved,

    /// <summary>A fenced write carried a token below the highest its lock already wrote to the key (in <see cref="KvResult.Version"/>); nothing changed.</summary>
    Fenced,

    /// <summary>A fenced write carried a token its lock never issued (the highest it issued in <see cref="KvResult.Version"/>); nothing changed.</summary>
    FenceNotIssued,
}

/// <summary>
/// The outcome of one operation: the key's version and value after it (value only for gets), and
/// <see cref="Revision"/>, the shard's revision of the key's last change (0 where there is none).
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.KvResult")]
public sealed record KvResult(KvStatus Status, long Version = 0, byte[]? Value = null, DateTimeOffset? ExpiresAt = null, long Revision = 0);

/// <summary>A live key as a scan shows it, with the revision of its last change.</summary>
[GenerateSerializer, Immutable, Alias("oc.KvItem")]
public sealed record KvItem(string Key, byte[] Value, long Version, long Revision = 0);

/// <summary>Keys of one shard in <see cref="KeyOrder"/>; <see cref="More"/> when the shard has further matches.</summary>
[GenerateSerializer, Immutable, Alias("oc.KvScanPage")]
public sealed record KvScanPage(IReadOnlyList<KvItem> Items, bool More, bool TableNotFound = false, bool Moved = false);

/// <summary>
/// A key's whole stored state, as one shard hands it to another while a table reshards: its value
/// (null for a key that is gone but whose fences must move on) and the highest token per lock that wrote to it.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.KvRow")]
public sealed record KvRow(string Key, byte[]? Value, long Version, DateTimeOffset? ExpiresAt, IReadOnlyDictionary<string, long>? Fences = null, long Revision = 0);

/// <summary>Where a shard lives and how many live keys it holds.</summary>
[GenerateSerializer, Immutable, Alias("oc.ShardInfo")]
public sealed record ShardInfo(int Shard, string Silo, long Keys);
