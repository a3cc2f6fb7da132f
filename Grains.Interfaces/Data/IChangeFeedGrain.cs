namespace OrleansCompute.Data;

/// <summary>
/// What a watch stream reads one shard's changes from: the shard grain of a plain table
/// (<see cref="IShardGrain"/>), or the change feed of one shard of a transactional table
/// (<see cref="ITxnChangeFeedGrain"/>). Both answer in the same revisions and statuses, so the
/// Api's feeds and streams need not know which kind of table they watch.
/// </summary>
[Alias("oc.IChangeFeedGrain")]
public interface IChangeFeedGrain : IGrainWithStringKey
{
    /// <summary>
    /// Watch: the changes after revision <paramref name="after"/> (at most <paramref name="limit"/>),
    /// from memory while the shard's recent tail still holds them, else from the change log. When there
    /// are none yet, waits up to <paramref name="wait"/> for one (a long poll). An <paramref name="after"/>
    /// below zero asks for nothing but the shard's current revision, as <see cref="ShardChanges.Head"/>.
    /// </summary>
    [Alias("ReadChanges"), AlwaysInterleave]
    Task<ShardChanges> ReadChangesAsync(long after, int limit, TimeSpan wait, CancellationToken cancellationToken = default);

}

/// <summary>
/// The change feed of one shard of a transactional table, keyed like its key index
/// (<see cref="Transactions.TxnKeys.IndexGrain"/>). It keeps nothing of its own: the revisions and
/// the change log are written by the commits of the shard's key grains
/// (Grains/Transactions/Storage/TransactionalStateWriter.cs), so any activation, on any silo,
/// serves the same history.
/// </summary>
[Alias("oc.ITxnChangeFeedGrain")]
public interface ITxnChangeFeedGrain : IChangeFeedGrain
{
    /// <summary>A commit logged changes to this feed: long polls waiting for them look again now.</summary>
    [Alias("Committed"), OneWay]
    Task CommittedAsync();

    /// <summary>
    /// The table was dropped (its drop is durable): long polls look again now and answer
    /// <see cref="ShardChangesStatus.Dropped"/>. Only latency depends on it; a poll that misses it
    /// finds the drop at its next look.
    /// </summary>
    [Alias("Dropped"), OneWay]
    Task DroppedAsync();
}
