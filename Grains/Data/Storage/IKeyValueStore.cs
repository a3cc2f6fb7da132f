namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// Where shard grains keep their rows: PostgreSQL, or the embedded SQLite file. One row per key;
/// a commit writes any number of rows in one transaction, fenced by the shard's epoch.
/// </summary>
public interface IKeyValueStore
{
    /// <summary>
    /// Takes the shard over for a new activation (the next epoch, which fences off any older
    /// activation's commits) and loads its rows. Expired rows are left for the sweep.
    /// </summary>
    Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, CancellationToken cancellationToken);

    /// <summary>
    /// Writes rows in one transaction if <paramref name="epoch"/> still owns the shard.
    /// Throws <see cref="ShardFencedException"/> when it does not, or the table was dropped.
    /// </summary>
    Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, CancellationToken cancellationToken);

    /// <summary>Marks every shard of a table dropped, so no activation commits to it again, and queues its rows for purging.</summary>
    Task MarkDroppedAsync(Guid tableId, int shards, CancellationToken cancellationToken);

    /// <summary>Deletes up to <paramref name="batchSize"/> rows of dropped tables; returns how many. Forgets tables with none left.</summary>
    Task<int> PurgeDroppedAsync(int batchSize, CancellationToken cancellationToken);
}

/// <summary>A shard as an activation finds it: its epoch, whether its table is gone, and its rows.</summary>
public sealed record ShardSnapshot(long Epoch, bool Dropped, IReadOnlyList<StoredRow> Rows);

/// <summary>A key's row.</summary>
public sealed record StoredRow(string Key, byte[] Value, long Version, DateTimeOffset? ExpiresAt);

/// <summary>The state a key must have after a commit: a value, or gone (<see cref="Value"/> null).</summary>
public sealed record RowWrite(string Key, byte[]? Value, long Version, DateTimeOffset? ExpiresAt);

/// <summary>The commit was refused: another activation owns the shard, or the table was dropped. Nothing was written.</summary>
public sealed class ShardFencedException(string message, bool tableDropped) : Exception(message)
{
    public bool TableDropped { get; } = tableDropped;
}
