using OrleansCompute.Faults.Checkers;

namespace OrleansCompute.Tests.Unit.Checkers;

public class LocksCheckerTests
{
    private static Op Hold(long token, long from, long? to, string lease = "l") => new()
    {
        Kind = OpKinds.LockHold, Outcome = Outcome.Ok, Name = "m", Token = token, HoldFrom = from, HoldTo = to, Lease = lease + token,
    };

    private static Op Acquire(long inv, long comp, long token, string lease) => new()
    {
        Kind = OpKinds.LockAcquire, Invoke = inv, Complete = comp, Outcome = Outcome.Ok, Name = "m", Token = token, Lease = lease,
    };

    private static Op Write(long inv, long? comp, long token, string value, Outcome outcome = Outcome.Ok) => new()
    {
        Kind = OpKinds.LockWrite, Invoke = inv, Complete = comp, Outcome = outcome, Name = "m", Token = token, Table = "t", Key = "f",
        Value = value, Status = outcome == Outcome.Fail ? 409 : null,
    };

    private static Op FinalRead(long inv, string? value) => new()
    {
        Kind = OpKinds.LockRead, Invoke = inv, Complete = inv + 1, Outcome = Outcome.Ok, Table = "t", Key = "f", Value = value,
    };

    [Fact]
    public void One_holder_at_a_time_increasing_tokens_and_fenced_writes_in_order_are_ok()
    {
        var v = LocksChecker.Check(new History([
            Hold(1, 0, 10), Hold(2, 10, 20), Hold(3, 25, null),
            Acquire(0, 1, 1, "a"), Acquire(2, 11, 2, "b"), Acquire(12, 26, 3, "c"),
            Write(2, 3, 1, "w1"), Write(12, 13, 2, "w2"), Write(14, 15, 1, "stale", Outcome.Fail), Write(27, null, 3, "w3", Outcome.Unknown),
            FinalRead(40, "w3"),
        ]));
        Assert.True(v.IsOk, v.ToString());
    }

    [Fact]
    public void Two_holders_overlapping_by_the_services_records_is_a_violation()
    {
        var v = LocksChecker.Check(new History([Hold(1, 0, 10), Hold(2, 8, 20)]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("two holders", v.Explanation);
    }

    [Fact]
    public void A_token_that_does_not_grow_is_a_violation()
    {
        Assert.True(LocksChecker.Check(new History([Hold(2, 0, 10), Hold(1, 10, 20)])).IsViolation);
        var v = LocksChecker.Check(new History([Acquire(0, 1, 5, "a"), Acquire(2, 3, 4, "b")]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.True(LocksChecker.Check(new History([Acquire(0, 1, 5, "a"), Acquire(2, 3, 5, "b")])).IsViolation);
    }

    [Fact]
    public void A_stale_fenced_write_applied_after_a_newer_one_is_a_violation()
    {
        var v = LocksChecker.Check(new History([Write(0, 1, 2, "new"), Write(2, 3, 1, "stale")]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("stale fenced write applied", v.Explanation);
    }

    [Fact]
    public void A_final_value_from_a_lower_token_than_the_highest_acknowledged_is_a_violation()
    {
        // The stale write was concurrent with the newer one, so its ack alone proves nothing; the final value does.
        var v = LocksChecker.Check(new History([Write(0, 5, 2, "new"), Write(1, 6, 1, "stale"), FinalRead(10, "stale")]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("token 2 was acknowledged", v.Explanation);
        Assert.True(LocksChecker.Check(new History([Write(0, 5, 2, "new"), Write(1, 6, 1, "x", Outcome.Fail), FinalRead(10, "x")])).IsViolation);
    }
}

public class LeasesCheckerTests
{
    // 1 tick = 1 ms.
    private static readonly HistoryMeta Meta = new() { TicksPerSecond = 1000 };

    private static Op Grant(long inv, long comp) => new()
    {
        Kind = OpKinds.LeaseGrant, Invoke = inv, Complete = comp, Outcome = Outcome.Ok, Status = 201, Lease = "l1", TtlMs = 10_000,
    };

    private static Op Keepalive(long inv, long comp, int status = 200) => new()
    {
        Kind = OpKinds.LeaseKeepalive, Invoke = inv, Complete = comp, Status = status, Lease = "l1",
        Outcome = status == 200 ? Outcome.Ok : Outcome.Fail,
    };

    [Fact]
    public void A_lease_that_ends_after_its_ttl_is_ok()
    {
        var v = LeasesChecker.Check(new History([Grant(0, 100), Keepalive(5_000, 5_100), Keepalive(15_000, 15_300), Keepalive(26_000, 26_001, 404)], Meta));
        Assert.True(v.IsOk, v.ToString());
        Assert.Equal(1, v.Counts["judged"]);
    }

    [Fact]
    public void The_check_counts_from_the_invoke_of_the_last_acknowledged_keepalive_and_the_answer_of_the_404()
    {
        // The keepalive was sent at 5000 and answered at 9000: the service may have renewed at 5000, so the lease may end
        // from 15000 on. A 404 answered at 15500 is fine even though 9000 + TTL = 19000 (that bound would be too strong).
        var ok = LeasesChecker.Check(new History([Grant(0, 100), Keepalive(5_000, 9_000), Keepalive(14_000, 15_500, 404)], Meta));
        Assert.True(ok.IsOk, ok.ToString());
        // A 404 answered at 14500 proves the lease ended before 5000 + TTL.
        var cut = LeasesChecker.Check(new History([Grant(0, 100), Keepalive(5_000, 9_000), Keepalive(14_000, 14_500, 404)], Meta));
        Assert.True(cut.IsViolation, cut.ToString());
    }

    [Fact]
    public void A_lease_that_came_back_is_a_violation_and_a_revoked_one_is_not_judged()
    {
        var back = LeasesChecker.Check(new History([Grant(0, 100), Keepalive(20_000, 20_001, 404), Keepalive(21_000, 21_001)], Meta));
        Assert.True(back.IsViolation, back.ToString());
        var revoked = LeasesChecker.Check(new History([
            Grant(0, 100), new Op { Kind = OpKinds.LeaseRevoke, Invoke = 200, Complete = 300, Outcome = Outcome.Ok, Lease = "l1" },
            Keepalive(400, 500, 404)], Meta));
        Assert.True(revoked.IsOk, revoked.ToString());
        Assert.Equal(1, revoked.Counts["revoked"]);
    }
}

public class WatchCheckerTests
{
    private static Op Stream(long established) => new() { Kind = OpKinds.WatchStream, Stream = "s1", Table = "t", Invoke = 0, Complete = established, Outcome = Outcome.Ok };

    private static Op Event(long at, string key, long revision, long version, string ev = "put", string? value = null, int? shard = null) => new()
    {
        Kind = OpKinds.WatchEvent, Stream = "s1", Invoke = at, Complete = at, Outcome = Outcome.Ok, Key = key, Revision = revision,
        Version = version, Event = ev, Value = value, Shard = shard,
    };

    private static Op Put(long inv, long comp, string key, string value, long version, Outcome outcome = Outcome.Ok) => new()
    {
        Kind = OpKinds.KvPut, Invoke = inv, Complete = comp, Outcome = outcome, Table = "t", Key = key, Value = value, Version = version,
    };

    private static Op[] Log() =>
    [
        Stream(1), Put(2, 3, "a", "a1", 1), Put(4, 5, "a", "a2", 2), Put(4, 6, "b", "b1", 1), Put(7, 8, "a", "a3", 3),
        new Op { Kind = OpKinds.KvDelete, Invoke = 9, Complete = 10, Outcome = Outcome.Ok, Table = "t", Key = "a", Result = KvResult.Ok },
        Put(11, 12, "a", "a4", 1),
    ];

    [Fact]
    public void Every_change_once_and_in_order_is_ok()
    {
        var v = WatchChecker.Check(new History([.. Log(),
            Event(4, "a", 10, 1, value: "a1"), Event(6, "a", 11, 2, value: "a2"), Event(7, "b", 12, 1, value: "b1"), Event(9, "a", 13, 3, value: "a3"),
            Event(11, "a", 14, 3, "delete"), Event(13, "a", 15, 1, value: "a4")]));
        Assert.True(v.IsOk, v.ToString());
    }

    [Fact]
    public void A_duplicate_event_is_a_violation()
    {
        var v = WatchChecker.Check(new History([.. Log(), Event(4, "a", 10, 1, value: "a1"), Event(5, "a", 10, 1, value: "a1")]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("duplicate", v.Explanation);
    }

    [Fact]
    public void A_missed_change_is_a_gap()
    {
        var v = WatchChecker.Check(new History([.. Log(), Event(4, "a", 10, 1, value: "a1"), Event(9, "a", 13, 3, value: "a3")]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("gap", v.Explanation);
        Assert.Contains("a2", v.Explanation);
    }

    [Fact]
    public void Events_out_of_order_or_with_a_reused_revision_are_violations()
    {
        var order = WatchChecker.Check(new History([.. Log(), Event(6, "a", 11, 2, value: "a2"), Event(7, "a", 10, 1, value: "a1")]));
        Assert.True(order.IsViolation, order.ToString());
        var shared = WatchChecker.Check(new History([.. Log(), Event(4, "a", 10, 1, value: "a1", shard: 3), Event(7, "b", 10, 1, value: "b1", shard: 3)]));
        Assert.True(shared.IsViolation, shared.ToString());
        Assert.Contains("names two changes", shared.Explanation);
    }

    [Fact]
    public void An_event_of_a_failed_or_unwritten_value_is_a_violation()
    {
        var failed = WatchChecker.Check(new History([.. Log(), Put(20, 21, "c", "c1", 1, Outcome.Fail), Event(22, "c", 30, 1, value: "c1")]));
        Assert.True(failed.IsViolation, failed.ToString());
        var phantom = WatchChecker.Check(new History([.. Log(), Event(22, "c", 30, 1, value: "nobody")]));
        Assert.True(phantom.IsViolation, phantom.ToString());
    }
}

public class VerdictReportTests
{
    [Fact]
    public void Rows_render_for_the_fault_matrix()
    {
        var report = new VerdictReport()
            .Add("partition silo 0", "kv", Verdict.Ok("kv-linearizable", 1200))
            .Add("pg stopped", "bank", Verdict.Violation("bank", 40, "read sees total 190, not 200 | x\nmore"));
        var md = report.Markdown();
        Assert.StartsWith("| fault | workload | checker | verdict | ops checked | note |", md);
        Assert.Contains("| partition silo 0 | kv | kv-linearizable | ok | 1200 |  |", md);
        Assert.Contains("| pg stopped | bank | bank | violation | 40 | read sees total 190, not 200 \\| x |", md);
        Assert.False(report.AllOk);
        Assert.Contains("```", report.Details());
    }
}
