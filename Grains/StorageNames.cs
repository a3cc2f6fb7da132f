namespace OrleansCompute.Grains;

/// <summary>Names of the grain storage providers the silo registers.</summary>
public static class StorageNames
{
    /// <summary>ADO.NET grain persistence: PostgreSQL, or SQLite in embedded mode.</summary>
    public const string Default = "store";
}
