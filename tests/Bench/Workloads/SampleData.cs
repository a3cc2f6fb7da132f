using System.Globalization;
using System.Text;

namespace OrleansCompute.Bench.Workloads;

/// <summary>Keys and values shared by every target, so all of them move the same bytes.</summary>
public static class SampleData
{
    /// <summary>Keys k00000..k09999 exist before the read workloads start.</summary>
    public const int PreloadedKeyCount = 10_000;

    /// <summary>Writes go to random keys among p000000..p099999.</summary>
    public const int PutKeyCount = 100_000;

    public const string HotKey = "k00042";

    private const int ValueVariants = 1024;

    private static readonly byte[][] Values = Enumerable.Range(0, ValueVariants)
        .Select(i => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $$"""{"n":{{100 + (i * 7 % 900)}},"s":"some text"}""")))
        .ToArray();

    public static string PreloadedKey(int index) => string.Create(CultureInfo.InvariantCulture, $"k{index:D5}");

    public static string PutKey(int index) => string.Create(CultureInfo.InvariantCulture, $"p{index:D6}");

    /// <summary>A small JSON object such as <c>{"n":123,"s":"some text"}</c> (26 bytes); callers must not modify it.</summary>
    public static byte[] Value(int seed) => Values[(int)((uint)seed % ValueVariants)];

    public static byte[] RandomValue(Random random) => Values[random.Next(ValueVariants)];
}
