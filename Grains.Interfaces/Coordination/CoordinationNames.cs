using System.Text.RegularExpressions;

namespace OrleansCompute.Coordination;

/// <summary>Names of locks (SPEC §4.4): the table-name rule, plus '/' and '.' inside.</summary>
public static partial class CoordinationNames
{
    /// <summary>A human-readable form of the rule, for error messages.</summary>
    public const string Rule = "1-63 characters of a-z, 0-9, '_', '-', '/' and '.', starting with a letter or digit and not ending with '/' or '.'";

    /// <summary>True when <paramref name="name"/> is a valid name.</summary>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9_./-]{0,61}[a-z0-9_-])?\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

/// <summary>Lease ids: 32 lowercase hex digits, random, never reused.</summary>
public static partial class LeaseIds
{
    /// <summary>A fresh id: 122 random bits.</summary>
    public static string New() => Guid.NewGuid().ToString("N");

    /// <summary>True when <paramref name="id"/> has the form of a lease id.</summary>
    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);

    [GeneratedRegex("^[0-9a-f]{32}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
