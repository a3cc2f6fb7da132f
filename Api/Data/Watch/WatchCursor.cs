using System.Globalization;
using System.Text;

namespace OrleansCompute.Api.Data.Watch;

/// <summary>
/// Where a watch stream stands: for one shard layout of a table (its id), the revision each shard's
/// stream has delivered through. Revisions are per shard, so a single number cannot say it; the
/// cursor is the vector. Text form, as the <c>id:</c> of every event: <c>&lt;layout id&gt;.&lt;r0&gt;.&lt;r1&gt;...</c>,
/// opaque to clients, who only hand it back as <c>Last-Event-ID</c>.
/// </summary>
public sealed record WatchCursor(Guid Layout, long[] After)
{
    public override string ToString()
    {
        var text = new StringBuilder(Layout.ToString("N"), 33 + After.Length * 4);
        foreach (var revision in After)
        {
            text.Append('.').Append(revision.ToString(CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    /// <summary>Reads a cursor made by <see cref="ToString"/>; null when the text is not one.</summary>
    public static WatchCursor? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 64 * 1024)
        {
            return null;
        }

        var parts = text.Trim().Split('.');
        if (parts.Length < 2 || !Guid.TryParseExact(parts[0], "N", out var layout))
        {
            return null;
        }

        var after = new long[parts.Length - 1];
        for (var i = 1; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out after[i - 1]))
            {
                return null;
            }
        }

        return new WatchCursor(layout, after);
    }
}
