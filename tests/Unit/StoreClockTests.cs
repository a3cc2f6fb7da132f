using System.Diagnostics;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Tests.Unit;

/// <summary>The silo's monotonic clock mapped onto the store's (017_commit_not_after.sql): never early, late by at most a round trip.</summary>
public class StoreClockTests
{
    private static readonly DateTime StoreNow = new(2026, 12, 3, 8, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Before_any_reading_nothing_is_mapped()
    {
        Assert.Null(new StoreClock().StoreTimeAt(Stopwatch.GetTimestamp()));
    }

    [Fact]
    public void An_instant_maps_to_the_reading_plus_the_time_since_its_statement_was_sent()
    {
        var clock = new StoreClock();
        var sent = Stopwatch.GetTimestamp();
        clock.Observe(sent, sent + Stopwatch.Frequency / 100, StoreNow);

        // Counted from the send, not the answer: the store read its clock at the send or later, so the mapping is never early.
        Assert.Equal(StoreNow + TimeSpan.FromSeconds(4), clock.StoreTimeAt(sent + 4 * Stopwatch.Frequency));
        Assert.Equal(StoreNow - TimeSpan.FromSeconds(1), clock.StoreTimeAt(sent - Stopwatch.Frequency));
    }

    [Fact]
    public void A_reading_with_a_round_trip_over_half_a_second_is_not_taken_and_the_previous_one_stands()
    {
        var clock = new StoreClock();
        var sent = Stopwatch.GetTimestamp();
        clock.Observe(sent, sent + Stopwatch.Frequency / 100, StoreNow);
        clock.Observe(sent + Stopwatch.Frequency, sent + 3 * Stopwatch.Frequency, StoreNow + TimeSpan.FromMinutes(5));

        Assert.Equal(StoreNow + TimeSpan.FromSeconds(2), clock.StoreTimeAt(sent + 2 * Stopwatch.Frequency));
    }

    [Fact]
    public void A_tighter_reading_replaces_the_current_one_and_a_looser_one_only_once_it_is_old()
    {
        var clock = new StoreClock();
        var sent = Stopwatch.GetTimestamp();
        var f = Stopwatch.Frequency;
        clock.Observe(sent, sent + f / 10, StoreNow);
        // Looser (a longer round trip), and the current reading is young: it stands.
        clock.Observe(sent + f, sent + f + f / 5, StoreNow + TimeSpan.FromSeconds(1.15));
        Assert.Equal(StoreNow + TimeSpan.FromSeconds(2), clock.StoreTimeAt(sent + 2 * f));
        // Tighter: taken (here the store's clock stepped a minute forward meanwhile).
        clock.Observe(sent + 2 * f, sent + 2 * f + f / 100, StoreNow + TimeSpan.FromSeconds(62));
        Assert.Equal(StoreNow + TimeSpan.FromSeconds(63), clock.StoreTimeAt(sent + 3 * f));
        // Looser, but the current reading is over half a minute old: taken.
        clock.Observe(sent + 40 * f, sent + 40 * f + f / 5, StoreNow + TimeSpan.FromSeconds(100));
        Assert.Equal(StoreNow + TimeSpan.FromSeconds(101), clock.StoreTimeAt(sent + 41 * f));
    }
}
