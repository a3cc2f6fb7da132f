namespace OrleansCompute.Data;

/// <summary>
/// One acknowledged change of one key, as a watch delivers it: the value after it (null: the key
/// was deleted, by a delete, its TTL or its lease's end), its version, and the shard's revision.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.KvChange")]
public sealed record KvChange(long Revision, string Key, byte[]? Value, long Version);

/// <summary>What a shard answers a watch read with.</summary>
[GenerateSerializer, Alias("oc.ShardChangesStatus")]
public enum ShardChangesStatus
{
    /// <summary><see cref="ShardChanges.Changes"/> are every change in (after, <see cref="ShardChanges.Head"/>].</summary>
    Ok,

    /// <summary>The cursor is below what the change log still holds; <see cref="ShardChanges.Floor"/> + 1 is the oldest revision held.</summary>
    Compacted,

    /// <summary>The table was dropped.</summary>
    Dropped,

    /// <summary>The shard handed its keys to a new layout (a reshard) and <see cref="ShardChanges.Head"/> is its last revision; the changes are as for <see cref="Ok"/>.</summary>
    Sealed,

    /// <summary>
    /// The shard's store keeps no change log, so it cannot be watched: a transactional table in
    /// embedded mode (SQLite). Decided by the silo, which knows its store; nothing else is answered.
    /// </summary>
    NoChangeLog,
}

/// <summary>
/// A page of a shard's changes after a cursor: every change with a revision in (after,
/// <see cref="Head"/>], oldest first, so the reader's cursor moves to <see cref="Head"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.ShardChanges")]
public sealed record ShardChanges(ShardChangesStatus Status, IReadOnlyList<KvChange> Changes, long Head, long Floor = 0);
