namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// Where shard grains keep their rows: PostgreSQL, or the embedded SQLite file. One row per key;
/// a commit writes any number of rows in one transaction, fenced by the shard's epoch.
///
/// Ownership: each shard row names its holder, the <see cref="SiloLeaseHolder"/> whose silo lease
/// the current epoch hangs on. A shard changes hands only when its holder released it or the
/// holder's silo lease ran out, so a silo that holds a valid lease knows that every epoch it took
/// is still current without asking the store.
/// </summary>
public interface IKeyValueStore
{
    /// <summary>
    /// Takes the shard over for a new activation held by <paramref name="holder"/> and loads its rows:
    /// waits (up to <paramref name="patience"/>) until the previous holder released the shard or its
    /// silo lease ran out, then takes the next epoch, which fences off any older activation's commits.
    /// Expired rows are left for the sweep. Throws <see cref="ShardFencedException"/> when a live holder keeps it.
    /// </summary>
    Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, string holder, TimeSpan patience, CancellationToken cancellationToken);

    /// <summary>
    /// Writes rows in one transaction if <paramref name="epoch"/> still owns the shard. Throws
    /// <see cref="ShardFencedException"/> when it does not, or the table was dropped.
    /// </summary>
    Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, CancellationToken cancellationToken)
        => CommitAsync(tableId, shard, epoch, writes, [], deadline: 0, cancellationToken);

    /// <summary>
    /// As <see cref="CommitAsync(Guid, int, long, IReadOnlyList{RowWrite}, CancellationToken)"/>, and appends
    /// <paramref name="changes"/> to the shard's change log in the same transaction (watch): the log
    /// holds a change exactly when the commit that made it stands. A <paramref name="deadline"/> (a
    /// <see cref="System.Diagnostics.Stopwatch"/> timestamp; 0 for none) is checked where the commit
    /// lands: one that arrives past it applies nothing and throws <see cref="OrleansCompute.Deadlines.DeadlineExceededException"/>.
    /// </summary>
    Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, IReadOnlyList<LoggedChange> changes, long deadline, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> logged changes of the shard with revisions in
    /// (<paramref name="after"/>, <paramref name="through"/>], oldest first, and the shard's log
    /// floor: the highest revision the retention sweep removed (a cursor below it is compacted).
    /// </summary>
    Task<ChangeLogPage> ReadChangesAsync(Guid tableId, int shard, long after, long through, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Removes up to <paramref name="batchSize"/> logged changes made before <paramref name="olderThan"/>,
    /// raising each shard's log floor to the highest revision removed; returns how many.
    /// </summary>
    Task<int> SweepChangesAsync(DateTimeOffset olderThan, int batchSize, CancellationToken cancellationToken);

    /// <summary>
    /// Seals the shard for a reshard, if <paramref name="epoch"/> still owns it: no activation commits
    /// to it again. False when another epoch owns it (nothing changed).
    /// </summary>
    Task<bool> SealShardAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken);

    /// <summary>True while <paramref name="epoch"/> still owns the shard and its table exists.</summary>
    Task<bool> OwnsAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken);

    /// <summary>Gives the shard up (a deactivating or moving shard), so the next activation need not wait for the holder's lease.</summary>
    Task ReleaseShardAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken);

    /// <summary>
    /// Extends the silo lease of <paramref name="holder"/> to <paramref name="lease"/> from now, by the
    /// store's clock. False when the membership records the silo dead: its lease then only runs out.
    /// </summary>
    Task<bool> RenewSiloLeaseAsync(SiloLeaseHolder holder, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Ends the silo lease at once (a silo that stopped after releasing its shards), and forgets long-expired ones.</summary>
    Task EndSiloLeaseAsync(SiloLeaseHolder holder, CancellationToken cancellationToken);

    /// <summary>Every silo lease the store holds, each judged lapsed or not by the store's clock (<see cref="DeadSiloEviction"/>).</summary>
    Task<IReadOnlyList<SiloLeaseState>> ReadSiloLeasesAsync(CancellationToken cancellationToken);

    /// <summary>Marks every shard of a table dropped, so no activation commits to it again, and queues its rows for purging.</summary>
    Task MarkDroppedAsync(Guid tableId, int shards, CancellationToken cancellationToken);

    /// <summary>Deletes up to <paramref name="batchSize"/> rows of dropped tables; returns how many. Forgets tables with none left.</summary>
    Task<int> PurgeDroppedAsync(int batchSize, CancellationToken cancellationToken);
}

/// <summary>
/// One silo process as the holder of a silo lease: <see cref="Id"/> is its address with its
/// generation, so a restarted silo at the same address is a new holder; the rest finds its row in
/// the membership table.
/// </summary>
public sealed record SiloLeaseHolder(string Id, string ClusterId, string Address, int Port, int Generation);

/// <summary>One silo's lease row: <see cref="Silo"/> is <see cref="SiloLeaseHolder.Id"/>; lapsed when its end has passed by the store's clock.</summary>
public sealed record SiloLeaseState(string Silo, bool Lapsed);

/// <summary>A shard as an activation finds it: its epoch, whether its table is gone, its rows and its keys' fences.</summary>
public sealed record ShardSnapshot(long Epoch, bool Dropped, IReadOnlyList<StoredRow> Rows, bool Sealed = false, IReadOnlyList<StoredFence>? Fences = null)
{
    /// <summary>
    /// The highest revision the shard ever handed out that is durable: of its rows, its change log
    /// and its log floor. A new activation continues above it, so revisions only grow.
    /// </summary>
    public long Revision { get; init; }

    /// <summary>The highest revision the retention sweep removed from the shard's change log.</summary>
    public long LogFloor { get; init; }
}

/// <summary>One acknowledged change as the change log keeps it: the key's value after it (null: deleted) and version.</summary>
public sealed record LoggedChange(long Revision, string Key, byte[]? Value, long Version);

/// <summary>Logged changes in revision order, and the shard's log floor (see <see cref="IKeyValueStore.ReadChangesAsync"/>).</summary>
public sealed record ChangeLogPage(IReadOnlyList<LoggedChange> Changes, long Floor);

/// <summary>The highest token <see cref="Lock"/> wrote to <see cref="Key"/> with; kept after the key is deleted.</summary>
public sealed record StoredFence(string Key, string Lock, long Token);

/// <summary>A key's row.</summary>
public sealed record StoredRow(string Key, byte[] Value, long Version, DateTimeOffset? ExpiresAt, long Revision = 0);

/// <summary>
/// The state a key must have after a commit: a value, or gone (<see cref="Value"/> null); with the
/// key's fences (highest token per lock) when a fenced write set them. Stored fences only ever rise.
/// </summary>
public sealed record RowWrite(string Key, byte[]? Value, long Version, DateTimeOffset? ExpiresAt, IReadOnlyDictionary<string, long>? Fences = null)
{
    /// <summary>The revision of the key's last change, stored with its row (watch).</summary>
    public long Revision { get; init; }

    /// <summary>True when the write is a change watchers see (a put, delete or expiry), false for a key handed over by a reshard.</summary>
    public bool Logged { get; init; }
}

/// <summary>The commit was refused: another activation owns the shard, the table was dropped, or the shard was sealed by a reshard. Nothing was written.</summary>
public sealed class ShardFencedException(string message, bool tableDropped, bool moved = false) : Exception(message)
{
    public bool TableDropped { get; } = tableDropped;

    public bool Moved { get; } = moved;
}
