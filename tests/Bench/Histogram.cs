using System.Numerics;

namespace OrleansCompute.Bench;

/// <summary>
/// Latency histogram in microseconds with log-linear buckets (the HdrHistogram layout):
/// values below 128 µs are exact, above that every power of two is split into 128 equal
/// buckets, so any recorded value is reported within 1/128 (&lt; 0.8%) of itself, from 1 µs to
/// days, in a fixed 40 KB and without storing samples. Not thread-safe: each load loop records
/// into its own histogram and the runner merges them with <see cref="Add"/>.
/// </summary>
public sealed class Histogram
{
    private const int SubBucketBits = 7;
    private const int SubBucketCount = 1 << SubBucketBits;

    // 2^40 µs is about 12 days; anything longer is clamped.
    private const int MaxValueBits = 40;
    private const long MaxTrackable = (1L << MaxValueBits) - 1;

    private readonly long[] _counts = new long[(MaxValueBits - SubBucketBits + 1) * SubBucketCount];

    public long Count { get; private set; }

    public long MinMicros { get; private set; } = long.MaxValue;

    public long MaxMicros { get; private set; }

    public double SumMicros { get; private set; }

    public void Record(long micros)
    {
        var value = Math.Clamp(micros, 0, MaxTrackable);
        _counts[IndexOf(value)]++;
        Count++;
        SumMicros += value;
        MinMicros = Math.Min(MinMicros, value);
        MaxMicros = Math.Max(MaxMicros, value);
    }

    public void Add(Histogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        SumMicros += other.SumMicros;
        MinMicros = Math.Min(MinMicros, other.MinMicros);
        MaxMicros = Math.Max(MaxMicros, other.MaxMicros);
    }

    /// <summary>The smallest value that at least <paramref name="percentile"/>% of the samples do not exceed (bucket upper bound).</summary>
    public long PercentileMicros(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(percentile / 100.0 * Count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(HighestEquivalent(i), MaxMicros);
            }
        }

        return MaxMicros;
    }

    /// <summary>Mean and percentiles in milliseconds, or null without samples.</summary>
    public LatencySummary? Summarize() => Count == 0
        ? null
        : new LatencySummary(
            Samples: Count,
            MeanMs: SumMicros / Count / 1000.0,
            P50Ms: PercentileMicros(50) / 1000.0,
            P90Ms: PercentileMicros(90) / 1000.0,
            P99Ms: PercentileMicros(99) / 1000.0,
            P999Ms: PercentileMicros(99.9) / 1000.0,
            MaxMs: MaxMicros / 1000.0);

    // Below 2 * SubBucketCount the index is the value; above, each octave [2^m, 2^(m+1)) keeps
    // SubBucketBits of precision: shift = m - SubBucketBits, index = shift * 128 + (value >> shift).
    internal static int IndexOf(long value)
    {
        if (value < SubBucketCount)
        {
            return (int)value;
        }

        var magnitude = 63 - BitOperations.LeadingZeroCount((ulong)value);
        var shift = magnitude - SubBucketBits;
        return (shift * SubBucketCount) + (int)(value >> shift);
    }

    internal static long HighestEquivalent(int index)
    {
        if (index < SubBucketCount)
        {
            return index;
        }

        var shift = (index / SubBucketCount) - 1;
        long sub = (index % SubBucketCount) + SubBucketCount;
        return ((sub + 1) << shift) - 1;
    }
}

/// <summary>Latency figures of one run, in milliseconds.</summary>
/// <remarks>Percentiles are null when only an average is known (a baseline tool that reports nothing else).</remarks>
public sealed record LatencySummary(long Samples, double MeanMs, double? P50Ms, double? P90Ms, double? P99Ms, double? P999Ms, double? MaxMs);
