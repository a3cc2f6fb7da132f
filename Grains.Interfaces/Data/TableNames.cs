using System.Text.RegularExpressions;

namespace OrleansCompute.Data;

/// <summary>The rule for table names (SPEC §4.1), shared by the Api's validation and the grains' guard.</summary>
public static partial class TableNames
{
    /// <summary>A human-readable form of the rule, for error messages.</summary>
    public const string Rule = "1-63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit";

    /// <summary>True when <paramref name="name"/> is a valid table name.</summary>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,62}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
