namespace OrleansCompute.Data;

/// <summary>
/// The order of keys in scans: Unicode code point order, which is the byte order of their UTF-8
/// encoding and PostgreSQL's "C" collation. .NET's ordinal order compares UTF-16 code units and
/// differs for characters above U+FFFF, so it is corrected here where the two disagree.
/// </summary>
public sealed class KeyOrder : IComparer<string>
{
    /// <summary>The one instance; the order has no settings.</summary>
    public static readonly KeyOrder Instance = new();

    private KeyOrder()
    {
    }

    /// <summary>Negative when <paramref name="x"/> comes first in code point order, 0 when equal, positive otherwise; null comes first.</summary>
    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null || y is null)
        {
            return x is null ? -1 : 1;
        }

        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            var a = x[i];
            var b = y[i];
            if (a != b)
            {
                // Surrogates (D800-DFFF) encode code points above FFFF, so they sort after E000-FFFF.
                return Weight(a) - Weight(b);
            }
        }

        return x.Length - y.Length;
    }

    private static int Weight(char c) => c switch
    {
        >= '\uE000' => c - 0x800,
        >= '\uD800' => c + 0x2000,
        _ => c,
    };
}
