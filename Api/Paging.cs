using System.Buffers.Text;
using System.Text;

namespace OrleansCompute.Api;

/// <summary>The list contract of SPEC §4: <c>limit</c> (default 100, at most 1000) and an opaque <c>after</c> cursor.</summary>
public static class Paging
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>The validated limit and decoded cursor, or the validation errors to answer with.</summary>
    public static (int Limit, string? After, Dictionary<string, string[]>? Errors) Parse(int? limit, string? after)
    {
        var errors = new Dictionary<string, string[]>();
        var effectiveLimit = limit ?? DefaultLimit;
        if (effectiveLimit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }

        string? decoded = null;
        if (!string.IsNullOrEmpty(after) && !TryDecode(after, out decoded))
        {
            errors["after"] = ["after is not a cursor returned by this list."];
        }

        return (effectiveLimit, decoded, errors.Count > 0 ? errors : null);
    }

    /// <summary>Wraps a position so callers treat it as opaque.</summary>
    public static string? Encode(string? position) =>
        position is null ? null : Base64Url.EncodeToString(Encoding.UTF8.GetBytes(position));

    private static bool TryDecode(string cursor, out string? position)
    {
        position = null;
        try
        {
            position = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            return position.Length > 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>One page of a list answer.</summary>
public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? Next);
