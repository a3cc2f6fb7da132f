using OrleansCompute.Tenancy;

namespace OrleansCompute.Data;

/// <summary>
/// A durable set of names, listed in ordinal order: which tables, schedules or tenants exist.
/// Keyed by <see cref="NameSets"/>. The grains that own each resource (a table, a schedule, a
/// tenant) own its definition; a name set only answers "which exist", for listings.
/// </summary>
[Alias("oc.INameSetGrain")]
public interface INameSetGrain : IGrainWithStringKey
{
    /// <summary>Adds <paramref name="name"/> to the set. Idempotent.</summary>
    [Alias("Add")]
    Task AddAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Removes <paramref name="name"/> from the set. Idempotent.</summary>
    [Alias("Remove")]
    Task RemoveAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> names after <paramref name="after"/>, in ordinal order.</summary>
    [Alias("List"), ReadOnly]
    Task<Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default);
}

/// <summary>The keys of the name sets, and the names a set lists without storing them.</summary>
public static class NameSets
{
    /// <summary>All tenants; the default tenant exists from the start, so it is always listed.</summary>
    public const string Tenants = "tenants";

    /// <summary>One tenant's tables.</summary>
    public static string Tables(string tenant) => $"tables/{tenant}";

    /// <summary>One tenant's schedules.</summary>
    public static string Schedules(string tenant) => $"schedules/{tenant}";

    /// <summary>Names the set <paramref name="key"/> lists though nobody added them.</summary>
    public static IEnumerable<string> Implicit(string key) => key == Tenants ? [TenantKey.DefaultTenant] : [];
}
