namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// Where shard grains keep their rows: PostgreSQL, or the embedded SQLite file. One row per key;
/// a commit writes any number of rows in one transaction, fenced by the shard's epoch.
/// </summary>
public interface IKeyValueStore
{
    /// <summary>
    /// Takes the shard over for a new activation and loads its rows: waits until the previous
    /// activation's lease has run out (or was released), then takes the next epoch, which fences
    /// off any older activation's commits, and a lease of <paramref name="lease"/>. Expired rows
    /// are left for the sweep.
    /// </summary>
    Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// Writes rows in one transaction if <paramref name="epoch"/> still owns the shard, extending
    /// its lease. Throws <see cref="ShardFencedException"/> when it does not, or the table was dropped.
    /// </summary>
    Task CommitAsync(Guid tableId, int shard, long epoch, TimeSpan lease, IReadOnlyList<RowWrite> writes, CancellationToken cancellationToken);

    /// <summary>Extends the lease of <paramref name="epoch"/>; false when another activation owns the shard or the table was dropped.</summary>
    Task<bool> RenewLeaseAsync(Guid tableId, int shard, long epoch, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Gives the lease up (a deactivating shard), so the next activation need not wait for it to run out.</summary>
    Task ReleaseLeaseAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken);

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
