using System.Diagnostics;

namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// This process's monotonic clock mapped onto the store's clock, so that a deadline counted here
/// can be checked by the store when a statement arrives (017_commit_not_after.sql). Each reading
/// is the store's time inside a statement sent at a known local instant: the store read it at
/// that instant or later, so <c>read + (t - sent)</c> is never earlier than the store's time at
/// local instant <c>t</c>, and later by at most the reading's round trip. A deadline mapped so is
/// never refused for a statement that arrives in time, and never lets one in more than that round
/// trip late. The wall clock of this process plays no part: a skewed one cannot move the mapping.
/// </summary>
public sealed class StoreClock
{
    // Readings whose round trip is longer say too little; the previous reading is kept instead.
    private static readonly long MaxRoundTrip = Stopwatch.Frequency;

    private readonly Lock _lock = new();
    private (long Sent, DateTime Read)? _reading;

    /// <summary>Takes a reading: <paramref name="storeNow"/> was read by a statement sent at <paramref name="sent"/> and answered at <paramref name="answered"/>.</summary>
    public void Observe(long sent, long answered, DateTime storeNow)
    {
        if (answered - sent > MaxRoundTrip)
        {
            return;
        }

        lock (_lock)
        {
            _reading = (sent, storeNow);
        }
    }

    /// <summary>The store's time at local instant <paramref name="timestamp"/> (a <see cref="Stopwatch"/> timestamp), at the latest; null before the first reading.</summary>
    public DateTime? StoreTimeAt(long timestamp)
    {
        lock (_lock)
        {
            return _reading is { } r ? r.Read + Stopwatch.GetElapsedTime(r.Sent, timestamp) : null;
        }
    }
}
