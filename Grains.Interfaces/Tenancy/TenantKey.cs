namespace OrleansCompute.Tenancy;

/// <summary>
/// Builds grain keys that carry their tenant, so that the same resource name in two tenants
/// never maps to the same grain. Every tenant-owned grain is keyed by <see cref="For"/>.
/// </summary>
public static class TenantKey
{
    /// <summary>The tenant that owns everything until API keys assign another.</summary>
    public const string DefaultTenant = "default";

    private const char Separator = '/';

    /// <summary>The grain key of <paramref name="name"/> inside <paramref name="tenant"/>.</summary>
    public static string For(string tenant, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenant);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (tenant.Contains(Separator))
        {
            throw new ArgumentException($"A tenant name cannot contain '{Separator}'.", nameof(tenant));
        }

        return string.Concat(tenant, Separator.ToString(), name);
    }

    /// <summary>Splits a key made by <see cref="For"/> back into tenant and name.</summary>
    public static (string Tenant, string Name) Parse(string key)
    {
        var separator = key.IndexOf(Separator);
        if (separator <= 0 || separator == key.Length - 1)
        {
            throw new FormatException($"'{key}' is not a tenant-scoped key.");
        }

        return (key[..separator], key[(separator + 1)..]);
    }
}
