namespace OrleansCompute.Tenancy;

/// <summary>What an API key may do (SPEC §7). Each endpoint requires exactly one scope.</summary>
public static class Scopes
{
    public const string DataRead = "data:read";
    public const string DataWrite = "data:write";
    public const string Jobs = "jobs";
    public const string Coord = "coord";
    public const string Admin = "admin";

    /// <summary>Every scope a tenant key may hold; <see cref="Admin"/> only on the default tenant.</summary>
    public static readonly IReadOnlyList<string> All = [DataRead, DataWrite, Jobs, Coord, Admin];
}
