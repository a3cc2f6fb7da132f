namespace OrleansCompute.Data;

/// <summary>
/// One shard of one table: owns its keys' rows in the store and a copy of them in memory.
/// Keyed by <see cref="ShardMap.ShardKey(string, TableInfo, int)"/>. Writes are acknowledged only once durable; reads are
/// served from memory and see every acknowledged write.
/// </summary>
[Alias("oc.IShardGrain")]
public interface IShardGrain : IChangeFeedGrain
{
    /// <summary>Runs one operation.</summary>
    [Alias("Execute")]
    Task<KvResult> ExecuteAsync(KvOp op, CancellationToken cancellationToken = default);

    /// <summary>Runs operations in order, each on its own (not atomically), committing their writes together.</summary>
    [Alias("ExecuteBatch")]
    Task<KvResult[]> ExecuteBatchAsync(KvOp[] ops, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> live keys starting with <paramref name="prefix"/> and after <paramref name="after"/>.</summary>
    [Alias("Scan"), ReadOnly]
    Task<KvScanPage> ScanAsync(string prefix, string? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>Where this shard lives and how many live keys it has.</summary>
    [Alias("Describe"), ReadOnly]
    Task<ShardInfo> DescribeAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes expired keys from memory and from the store.</summary>
    [Alias("SweepExpired")]
    Task<int> SweepExpiredAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Hands the shard over to the silo the layout now names for it, if that is another silo: the
    /// activation commits what it staged, releases the shard, and the new one loads it.
    /// </summary>
    [Alias("Move")]
    Task MoveAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Hands this shard's keys to the new layout of a reshard: from now on it answers every call
    /// with <see cref="KvStatus.Moved"/>, commits what it staged, seals itself in the store (no
    /// activation of it commits again), and copies its keys into the shards of the new layout
    /// (<paramref name="toId"/>, <paramref name="toShards"/> shards) that hold them. Safe to call
    /// again after a failure or on a new activation: the copy is the same.
    /// </summary>
    [Alias("HandOver")]
    Task HandOverAsync(Guid toId, int toShards, CancellationToken cancellationToken = default);

    /// <summary>Writes keys handed over by a shard of the old layout, with their versions and expiry, through the usual commit.</summary>
    [Alias("Ingest")]
    Task IngestAsync(KvRow[] rows, CancellationToken cancellationToken = default);

    /// <summary>Forgets the shard: the table was dropped and its rows are purged in the background.</summary>
    [Alias("Drop"), AlwaysInterleave]
    Task DropAsync(CancellationToken cancellationToken = default);
}
