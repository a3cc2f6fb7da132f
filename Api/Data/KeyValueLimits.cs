using System.Text;

namespace OrleansCompute.Api.Data;

/// <summary>Limits on keys, values and batches (configuration section <c>KeyValue</c>).</summary>
public sealed class KeyValueLimits
{
    /// <summary>Keys are 1 to this many UTF-8 bytes (SPEC §4.1).</summary>
    public const int MaxKeyBytes = 1024;

    /// <summary>Largest value, in bytes of JSON text; larger ones are answered 413.</summary>
    public int MaxValueBytes { get; set; } = 1024 * 1024;

    /// <summary>Most operations in one batch; more are answered 400.</summary>
    public int MaxBatchOps { get; set; } = 1000;

    /// <summary>Longest time to live, so expiry times stay representable.</summary>
    public int MaxTtlSeconds { get; set; } = 10 * 365 * 24 * 3600;

    /// <summary>Why <paramref name="ttlSeconds"/> is not a valid time to live, or null when it is (or absent).</summary>
    public string? TtlError(int? ttlSeconds) =>
        ttlSeconds is { } ttl && (ttl < 1 || ttl > MaxTtlSeconds) ? $"ttlSeconds must be between 1 and {MaxTtlSeconds}." : null;

    /// <summary>Why <paramref name="key"/> is not a valid key, or null when it is.</summary>
    public static string? KeyError(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "A key must not be empty.";
        }

        int bytes;
        try
        {
            bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetByteCount(key);
        }
        catch (EncoderFallbackException)
        {
            return "A key must be valid Unicode text.";
        }

        return bytes > MaxKeyBytes ? $"A key is at most {MaxKeyBytes} UTF-8 bytes; this one has {bytes}." : null;
    }
}
