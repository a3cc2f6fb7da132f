namespace OrleansCompute.Data;

/// <summary>
/// The names of one tenant's tables, for listing. Keyed by tenant name. The table grains own
/// each table's spec; the catalog only answers "which tables exist", in name order.
/// </summary>
[Alias("oc.ITableCatalogGrain")]
public interface ITableCatalogGrain : IGrainWithStringKey
{
    /// <summary>Records that <paramref name="table"/> exists. Idempotent.</summary>
    [Alias("Add")]
    Task AddAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Forgets <paramref name="table"/>. Idempotent.</summary>
    [Alias("Remove")]
    Task RemoveAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> table names after <paramref name="after"/>, in ordinal order.</summary>
    [Alias("List"), ReadOnly]
    Task<Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default);
}
