using OrleansCompute.Tests.Faults.Harness;
using OrleansCompute.Tests.Faults.Workloads;

namespace OrleansCompute.Tests.Faults;

/// <summary>
/// The watch workload's judging: its ops, as the harness records them, reach the watch checker with
/// the KV workload's writes of the phase (so a lost field would show as "no event", not pass), and a
/// gap or a duplicate in a stream is a violation.
/// </summary>
public class WatchWorkloadTests
{
    private const string Table = KvWorkload.Table;
    private const string Key = "p0-k0";

    private static Op Put(string value, long version, double sent) => new()
    {
        Kind = "kv.put", Workload = "kv", Resource = Key, Table = Table, Key = Key, Value = $"\"{value}\"", Version = version, Result = version == 1 ? "created" : "ok",
        Invoke = History.Ticks(sent), Complete = History.Ticks(sent + 0.1), Outcome = Outcomes.Ok, Status = version == 1 ? 201 : 200,
    };

    private static Op Event(string stream, string value, long version, long revision, double received) => new()
    {
        Kind = "watch.event", Workload = WatchWorkload.WorkloadName, Resource = "p0-watch0", Stream = stream, Table = Table, Key = Key, Event = "put",
        Value = $"\"{value}\"", Version = version, Revision = revision, Invoke = History.Ticks(received), Complete = History.Ticks(received), Outcome = Outcomes.Ok,
    };

    private static Op Opened(string stream, double sent) => new()
    {
        Kind = "watch.stream", Workload = WatchWorkload.WorkloadName, Resource = "p0-watch0", Stream = stream, Table = Table, Prefix = WatchWorkload.PrefixOf(0),
        Invoke = History.Ticks(sent), Complete = History.Ticks(sent + 0.1), Outcome = Outcomes.Ok, Status = 200,
    };

    private static readonly Op[] Writes = [Put("a", 1, 2), Put("b", 2, 3), Put("c", 3, 4), Put("d", 4, 5)];

    [Fact]
    public void A_stream_resumed_on_a_second_connection_that_saw_every_write_once_in_order_is_ok()
    {
        Op[] watch = [Opened("s", 1), Event("s", "a", 1, 10, 2.2), Event("s", "b", 2, 11, 3.2), Opened("s", 3.5), Event("s", "c", 3, 12, 4.2), Event("s", "d", 4, 13, 5.2)];

        var verdict = WatchWorkload.Check(watch, Writes, seed: 1, fault: "test");

        Assert.True(verdict.IsOk, verdict.Explanation);
        Assert.Equal(4, verdict.Counts!["events"]);
        Assert.Equal(4, verdict.Counts!["writes"]);
    }

    [Fact]
    public void A_write_missed_across_a_resume_is_a_gap()
    {
        Op[] watch = [Opened("s", 1), Event("s", "a", 1, 10, 2.2), Event("s", "b", 2, 11, 3.2), Opened("s", 3.5), Event("s", "d", 4, 13, 5.2)];

        var verdict = WatchWorkload.Check(watch, Writes, seed: 1, fault: "test");

        Assert.True(verdict.IsViolation);
        Assert.Contains("gap", verdict.Explanation);
    }

    [Fact]
    public void An_event_delivered_again_after_a_resume_is_a_duplicate()
    {
        Op[] watch = [Opened("s", 1), Event("s", "a", 1, 10, 2.2), Event("s", "b", 2, 11, 3.2), Opened("s", 3.5), Event("s", "b", 2, 11, 3.6)];

        var verdict = WatchWorkload.Check(watch, Writes, seed: 1, fault: "test");

        Assert.True(verdict.IsViolation);
        Assert.Contains("duplicate", verdict.Explanation);
    }

    [Fact]
    public void A_put_refused_with_412_is_not_owed_an_event_and_its_value_in_an_event_is_a_violation()
    {
        var refused = new Op
        {
            Kind = "kv.put", Workload = "kv", Resource = Key, Table = Table, Key = Key, Value = "\"x\"", IfVersion = 1, Result = "preconditionFailed",
            Invoke = History.Ticks(3.3), Complete = History.Ticks(3.4), Outcome = Outcomes.Ok, Status = 412,
        };
        Op[] writes = [.. Writes, refused];
        Op[] watch = [Opened("s", 1), Event("s", "a", 1, 10, 2.2), Event("s", "b", 2, 11, 3.2), Event("s", "c", 3, 12, 4.2), Event("s", "d", 4, 13, 5.2)];

        var ok = WatchWorkload.Check(watch, writes, seed: 1, fault: "test");
        var shown = WatchWorkload.Check([.. watch, Event("s", "x", 5, 14, 5.5)], writes, seed: 1, fault: "test");

        Assert.True(ok.IsOk, ok.Explanation);
        Assert.True(shown.IsViolation);
        Assert.Contains("failed write", shown.Explanation);
    }

    [Fact]
    public void A_phase_without_any_event_checks_no_op_and_says_so()
    {
        var verdict = WatchWorkload.Check([Opened("s", 1)], Writes, seed: 1, fault: "test");

        Assert.False(verdict.IsViolation);
        Assert.Equal(0, verdict.OpsChecked);
        Assert.Contains("nothing to judge", verdict.Explanation);
    }
}
