using System.Diagnostics;

namespace OrleansCompute.Deadlines;

/// <summary>
/// This process's monotonic clock mapped onto the store's (PostgreSQL's) clock, the one clock every
/// process can compare against: a deadline counted here can be checked where work arrives, in
/// another process (a silo, docs/reliability.md "Bounded effects") or in the store itself
/// (017_commit_not_after.sql), however long the work was held on its way. Each reading is the
/// store's time as seen inside a call sent at a known local instant: a silo reads it in its lease
/// renewals' statements, the Api asks a silo for its mapping (never earlier than the store's time
/// either). Read at that instant or later, <c>read + (t - sent)</c> is never earlier than the store's
/// time at local instant <c>t</c>, and later by at most the reading's round trip (readings over half
/// a second are not taken; the tightest of the last half minute stands). A deadline mapped so never refuses work that arrives in time and lets
/// late work in by at most that much. The wall clock of this process plays no part: a skewed one
/// cannot move the mapping.
/// </summary>
public sealed class StoreClock
{
    // Readings whose round trip is longer say too little; the previous reading is kept instead.
    private static readonly long MaxRoundTrip = Stopwatch.Frequency / 2;

    // A reading stands until a tighter one comes, or for this long: the two clocks drift apart by
    // microseconds in that time, far less than a busy machine's round trips vary.
    private static readonly long MaxAge = 30 * Stopwatch.Frequency;

    private readonly Lock _lock = new();
    private (long Sent, long RoundTrip, DateTime Read)? _reading;

    /// <summary>
    /// Takes a reading: <paramref name="storeNow"/> was read by a call sent at <paramref name="sent"/>
    /// and answered at <paramref name="answered"/>. It replaces the current one when its round trip
    /// is no longer (its bound is tighter), or when the current one is old.
    /// </summary>
    public void Observe(long sent, long answered, DateTime storeNow)
    {
        var roundTrip = answered - sent;
        if (roundTrip > MaxRoundTrip)
        {
            return;
        }

        lock (_lock)
        {
            if (_reading is not { } current || roundTrip <= current.RoundTrip || sent - current.Sent > MaxAge)
            {
                _reading = (sent, roundTrip, storeNow);
            }
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
