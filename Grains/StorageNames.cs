namespace OrleansCompute.Grains;

/// <summary>Names of the grain storage providers the silo registers.</summary>
public static class StorageNames
{
    /// <summary>ADO.NET grain persistence: PostgreSQL, or SQLite in embedded mode.</summary>
    public const string Default = "store";

    /// <summary>
    /// State of transactional grains: the project's own PostgreSQL storage, or (embedded mode, or when
    /// configured) the Orleans adapter over the ADO.NET grain storage. See docs/transactions.md.
    /// </summary>
    public const string Transactional = "txn";
}
