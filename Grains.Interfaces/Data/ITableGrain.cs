namespace OrleansCompute.Data;

/// <summary>
/// The metadata of one table. Keyed by <see cref="Tenancy.TenantKey.For"/>(tenant, table name),
/// so tables of different tenants never share a grain.
/// </summary>
[Alias("oc.ITableGrain")]
public interface ITableGrain : IGrainWithStringKey
{
    /// <summary>Creates the table, or reports whether an existing one matches <paramref name="spec"/>.</summary>
    [Alias("Create")]
    Task<TableCreateResult> CreateAsync(TableSpec spec, CancellationToken cancellationToken = default);

    /// <summary>The table, or null when it does not exist.</summary>
    [Alias("Describe"), ReadOnly]
    Task<TableInfo?> DescribeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts moving the table's keys to <paramref name="shards"/> shards (a multiple or a divisor of
    /// the current count) while reads and writes go on; <see cref="DescribeAsync"/> shows the progress.
    /// </summary>
    [Alias("Reshard")]
    Task<ReshardResult> ReshardAsync(int shards, CancellationToken cancellationToken = default);

    /// <summary>Drops the table. False when it did not exist.</summary>
    [Alias("Drop")]
    Task<bool> DropAsync(CancellationToken cancellationToken = default);
}
