namespace OrleansCompute.Tenancy;

/// <summary>What an API key may do (SPEC §7). Each endpoint requires exactly one scope.</summary>
public static class Scopes
{
    /// <summary>Read tables and keys: get, scan, describe, and transactions that only read.</summary>
    public const string DataRead = "data:read";

    /// <summary>Change tables and keys: create, reshard, drop, put, delete, batches and writing transactions.</summary>
    public const string DataWrite = "data:write";

    /// <summary>Submit, follow and control jobs and schedules.</summary>
    public const string Jobs = "jobs";

    /// <summary>Leases, locks and elections.</summary>
    public const string Coord = "coord";

    /// <summary>Manage tenants and their API keys, across tenants.</summary>
    public const string Admin = "admin";

    /// <summary>Every scope a tenant key may hold; <see cref="Admin"/> only on the default tenant.</summary>
    public static readonly IReadOnlyList<string> All = [DataRead, DataWrite, Jobs, Coord, Admin];
}
