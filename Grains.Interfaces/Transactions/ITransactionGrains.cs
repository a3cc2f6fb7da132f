using OrleansCompute.Data;

namespace OrleansCompute.Transactions;

/// <summary>
/// Runs transactions over transactional tables (SPEC §4.2): evaluates the compares and runs the
/// chosen branch in one Orleans transaction, retrying conflicts with jittered backoff. Stateless:
/// any activation on any silo may take any request.
/// </summary>
[Alias("oc.ITransactionCoordinatorGrain")]
public interface ITransactionCoordinatorGrain : IGrainWithIntegerKey
{
    /// <summary>Runs <paramref name="request"/>; every outcome, including conflicts and in-doubt commits, is a value.</summary>
    [Alias("Run")]
    Task<TxnResult> RunAsync(TxnRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> committed keys of one transactional table starting with
    /// <paramref name="prefix"/> and after <paramref name="after"/>, in key order, read in one transaction.
    /// </summary>
    [Alias("Scan")]
    Task<TxnScanPage> ScanAsync(string tenant, Guid tableId, int shards, string prefix, string? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> committed keys of one shard of a transactional table after
    /// <paramref name="after"/>, in key order, read in one transaction: the page is one serializable
    /// snapshot. Data tasks read a shard this way, page by page.
    /// </summary>
    [Alias("ScanShard")]
    Task<TxnScanPage> ScanShardAsync(string tenant, Guid tableId, int shard, string? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>The number of committed keys of one transactional table.</summary>
    [Alias("Count")]
    Task<long> CountAsync(string tenant, Guid tableId, int shards, CancellationToken cancellationToken = default);
}

/// <summary>
/// One key of a transactional table, keyed by <see cref="TxnKeys.KeyGrain(string, Data.TableInfo, string)"/>. Every method joins
/// the caller's transaction; a key is its own lock, so transactions on different keys never wait
/// on each other. Callers take the locks of all keys of a transaction in ordinal order of their
/// grain keys before any write, so no two transactions wait on each other in a cycle.
/// </summary>
[Alias("oc.ITransactionalKeyGrain")]
public interface ITransactionalKeyGrain : IGrainWithStringKey
{
    /// <summary>The key as the transaction sees it.</summary>
    [Transaction(TransactionOption.Join), Alias("Read")]
    Task<TxnKeyValue> ReadAsync();

    /// <summary>
    /// Writes <paramref name="value"/> (JSON text); the version grows by one. Every write may be
    /// fenced: with a token below the key's highest for that lock, it changes nothing and answers
    /// <see cref="TxnKeyValue.FencedBy"/>.
    /// </summary>
    [Transaction(TransactionOption.Join), Alias("Put")]
    Task<TxnKeyValue> PutAsync(byte[] value, KvFence? fence = null);

    /// <summary>Removes the key; answers the key as it was (absent if it was).</summary>
    [Transaction(TransactionOption.Join), Alias("Delete")]
    Task<TxnKeyValue> DeleteAsync(KvFence? fence = null);

    /// <summary>
    /// Adds <paramref name="delta"/> to the key's JSON number (an absent key counts as 0). Null,
    /// with nothing changed, when the key holds something other than a number.
    /// </summary>
    [Transaction(TransactionOption.Join), Alias("Add")]
    Task<TxnKeyValue?> AddAsync(decimal delta, KvFence? fence = null);

    /// <summary>
    /// Outside any transaction: the revision of each of the key's changes numbered
    /// <paramref name="changes"/> (<see cref="TxnKeyValue.Change"/> of committed answers), waiting
    /// up to <paramref name="wait"/> (at most 2 s) for those not yet logged, all at once. 0 for a
    /// change with no revision, or one not logged in time.
    /// </summary>
    [Alias("Revisions")]
    Task<long[]> RevisionsAsync(long[] changes, TimeSpan wait);
}

/// <summary>
/// The committed keys of one shard of a transactional table, keyed by <see cref="TxnKeys.IndexGrain"/>.
/// The transaction that creates or deletes keys updates it, so a scan that reads the index in a
/// transaction lists exactly the committed keys. Only creates and deletes touch it; writes to
/// existing keys do not. The keys live in leaves (<see cref="ITransactionalKeyLeafGrain"/>) of a
/// bounded size, each covering a range of keys, so a create or delete rewrites one leaf, not the
/// whole shard's key list; this grain holds only where each leaf's range starts.
/// </summary>
[Alias("oc.ITransactionalKeyIndexGrain")]
public interface ITransactionalKeyIndexGrain : IGrainWithStringKey
{
    /// <summary>Records keys created and keys deleted by the caller's transaction.</summary>
    [Transaction(TransactionOption.Join), Alias("Update")]
    Task UpdateAsync(string[] added, string[] removed);

    /// <summary>Up to <paramref name="limit"/> keys with <paramref name="prefix"/> after <paramref name="after"/> in key order, and whether there are more.</summary>
    [Transaction(TransactionOption.Join), Alias("List")]
    Task<TxnIndexPage> ListAsync(string prefix, string? after, int limit);

    /// <summary>The number of committed keys of the shard.</summary>
    [Transaction(TransactionOption.Join), Alias("Count")]
    Task<int> CountAsync();

    /// <summary>
    /// The silo this index is active on (outside any transaction): data tasks over the shard run
    /// there, next to the index they read on every page.
    /// </summary>
    [Alias("Silo")]
    Task<string> SiloAsync();
}

/// <summary>
/// One leaf of a key index: the committed keys of one key range of a shard, in key order, at most
/// a configured number of them (<c>Transactions:KeyIndex:LeafKeys</c>). Keyed by
/// <see cref="TxnKeys.LeafGrain"/>; only its index calls it, always inside the index's transaction.
/// </summary>
[Alias("oc.ITransactionalKeyLeafGrain")]
public interface ITransactionalKeyLeafGrain : IGrainWithStringKey
{
    /// <summary>
    /// Records keys created and deleted. When the leaf then holds more than
    /// <paramref name="maxKeys"/>, it keeps its first half and returns the rest in runs of half
    /// that size, which the index moves to new leaves in the same transaction; otherwise none.
    /// </summary>
    [Transaction(TransactionOption.Join), Alias("Update")]
    Task<string[][]> UpdateAsync(string[] added, string[] removed, int maxKeys);

    /// <summary>Up to <paramref name="limit"/> of the leaf's keys with <paramref name="prefix"/> after <paramref name="after"/>, and whether more of them match.</summary>
    [Transaction(TransactionOption.Join), Alias("List")]
    Task<TxnIndexPage> ListAsync(string prefix, string? after, int limit);

    /// <summary>The number of keys in the leaf.</summary>
    [Transaction(TransactionOption.Join), Alias("Count")]
    Task<int> CountAsync();
}

/// <summary>Keys of one index, in key order; <see cref="More"/> when further keys match.</summary>
[GenerateSerializer, Immutable, Alias("oc.TxnIndexPage")]
public sealed record TxnIndexPage(string[] Keys, bool More);
