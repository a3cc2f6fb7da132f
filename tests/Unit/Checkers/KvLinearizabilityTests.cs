using OrleansCompute.Faults.Checkers;

namespace OrleansCompute.Tests.Unit.Checkers;

public class KvLinearizabilityTests
{
    // Times are in ticks; the meta says 1 tick = 1 s so reports read easily.
    private static readonly HistoryMeta Meta = new() { TicksPerSecond = 1 };

    private static Op Put(int p, long inv, long? comp, string value, long? version = null, Outcome outcome = Outcome.Ok,
        long? ifVersion = null, KvResult? result = null, string key = "k") => new()
        {
            Kind = OpKinds.KvPut, Process = p, Invoke = inv, Complete = comp, Outcome = outcome, Table = "t", Key = key,
            Value = value, Version = version, IfVersion = ifVersion, Result = result,
            Status = result == KvResult.PreconditionFailed ? 412 : null,
        };

    private static Op Get(int p, long inv, long comp, string? value, long? version = null, string key = "k") => new()
    {
        Kind = OpKinds.KvGet, Process = p, Invoke = inv, Complete = comp, Outcome = Outcome.Ok, Table = "t", Key = key,
        Value = value, Version = version, Result = value is null ? KvResult.NotFound : KvResult.Ok,
    };

    private static Op Delete(int p, long inv, long? comp, Outcome outcome = Outcome.Ok, KvResult? result = KvResult.Ok, long? ifVersion = null) => new()
    {
        Kind = OpKinds.KvDelete, Process = p, Invoke = inv, Complete = comp, Outcome = outcome, Table = "t", Key = "k",
        Result = outcome == Outcome.Ok ? result : null, IfVersion = ifVersion,
    };

    private static Verdict Check(HistoryMeta? meta, params Op[] ops) =>
        KvLinearizabilityChecker.Check(new History(ops, meta ?? Meta));

    [Fact]
    public void Sequential_writes_and_reads_are_linearizable()
    {
        var v = Check(null,
            Put(1, 0, 1, "a", 1, result: KvResult.Created),
            Get(2, 2, 3, "a", 1),
            Put(1, 4, 5, "b", 2, result: KvResult.Ok),
            Get(2, 6, 7, "b", 2),
            Delete(1, 8, 9),
            Get(2, 10, 11, null),
            Put(1, 12, 13, "c", 1, result: KvResult.Created));
        Assert.True(v.IsOk, v.ToString());
        Assert.Equal(7, v.OpsChecked);
    }

    [Fact]
    public void A_read_concurrent_with_a_write_may_see_either_value()
    {
        var old = Check(null, Put(1, 0, 1, "a", 1), Put(1, 2, 10, "b", 2), Get(2, 3, 4, "a", 1), Get(3, 5, 6, "b", 2));
        Assert.True(old.IsOk, old.ToString());
        // ...but once a reader saw the new value, a later reader cannot see the old one.
        var flip = Check(null, Put(1, 0, 1, "a", 1), Put(1, 2, 10, "b", 2), Get(2, 3, 4, "b", 2), Get(3, 5, 6, "a", 1));
        Assert.True(flip.IsViolation, flip.ToString());
    }

    [Fact]
    public void A_stale_read_is_a_violation_and_the_report_names_the_window()
    {
        var v = Check(null,
            Put(1, 0, 1, "a", 1), Get(2, 2, 3, "a", 1), Put(1, 4, 5, "b", 2), Get(2, 6, 7, "b", 2),
            Put(1, 8, 9, "c", 3), Get(2, 10, 11, "b", 2), // stale: c was acknowledged at 9
            Put(1, 12, 13, "d", 4), Get(2, 14, 15, "d", 4));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("key t/k", v.Explanation);
        Assert.Contains("fails once this answer is in: #6", v.Explanation);
        Assert.DoesNotContain("\"d\"", v.Explanation); // later ops are outside the window
        Assert.DoesNotContain("\"a\"", v.Explanation); // and so are the early ones
    }

    [Fact]
    public void A_lost_acknowledged_write_is_a_violation()
    {
        var v = Check(null, Put(1, 0, 1, "a", 1, result: KvResult.Created), Get(2, 5, 6, null));
        Assert.True(v.IsViolation, v.ToString());
    }

    [Fact]
    public void A_failed_write_must_not_show()
    {
        var v = Check(null, Put(1, 0, 1, "a", 1), Put(2, 2, 3, "b", outcome: Outcome.Fail), Get(3, 4, 5, "b", 2));
        Assert.True(v.IsViolation, v.ToString());
    }

    [Fact]
    public void An_unknown_write_may_take_effect_late_unless_its_deadline_has_passed()
    {
        // x was sent at 2 and never answered; b (v2) and c (v3) were acknowledged later; x is read at 30 as v4.
        Op[] ops =
        [
            Put(1, 0, 1, "a", 1), Put(2, 2, null, "x", outcome: Outcome.Unknown), Put(1, 3, 4, "b", 2),
            Put(1, 10, 11, "c", 3), Get(3, 30, 31, "x", 4),
        ];
        Assert.True(Check(null, ops).IsOk);
        var bounded = Check(Meta with { EffectDeadline = 5 }, ops);
        Assert.True(bounded.IsViolation, bounded.ToString());
        // Within its deadline it may still have taken effect...
        Assert.True(Check(Meta with { EffectDeadline = 20 }, ops).IsOk);
    }

    [Fact]
    public void An_unknown_write_that_never_took_effect_is_fine()
    {
        var v = Check(Meta with { EffectDeadline = 5 },
            Put(1, 0, 1, "a", 1), Put(2, 2, 6, "x", outcome: Outcome.Unknown), Get(3, 30, 31, "a", 1), Put(1, 32, 33, "b", 2));
        Assert.True(v.IsOk, v.ToString());
    }

    [Fact]
    public void Versions_betray_a_write_that_took_effect()
    {
        // b's answer says version 3: something took effect between a (v1) and b; only the unknown x can have.
        var withUnknown = Check(null, Put(1, 0, 1, "a", 1), Put(2, 2, null, "x", outcome: Outcome.Unknown), Put(1, 5, 6, "b", 3));
        Assert.True(withUnknown.IsOk, withUnknown.ToString());
        var without = Check(null, Put(1, 0, 1, "a", 1), Put(1, 5, 6, "b", 3));
        Assert.True(without.IsViolation, without.ToString());
    }

    [Fact]
    public void A_precondition_failure_is_an_observation()
    {
        // The version was 1 when the conditional put ran: its 412 is a violation.
        var v = Check(null, Put(1, 0, 1, "a", 1), Put(2, 2, 3, "b", ifVersion: 1, result: KvResult.PreconditionFailed));
        Assert.True(v.IsViolation, v.ToString());
        // A concurrent write may have moved the version first.
        var ok = Check(null, Put(1, 0, 1, "a", 1), Put(3, 1, 4, "c", 2), Put(2, 2, 3, "b", ifVersion: 1, result: KvResult.PreconditionFailed));
        Assert.True(ok.IsOk, ok.ToString());
        // A conditional put that succeeded needs the version it named.
        var cas = Check(null, Put(1, 0, 1, "a", 1), Put(2, 2, 3, "b", 2, ifVersion: 1), Get(3, 4, 5, "b", 2));
        Assert.True(cas.IsOk, cas.ToString());
        var badCas = Check(null, Put(1, 0, 1, "a", 1), Put(1, 2, 3, "c", 2), Put(2, 4, 5, "b", 3, ifVersion: 1));
        Assert.True(badCas.IsViolation, badCas.ToString());
    }

    [Fact]
    public void An_unknown_conditional_put_applies_only_if_its_version_matched()
    {
        // x (If-Match 1) could only have applied while the version was 1, i.e. before b: b then reads v3? no: x sets v2, b v3.
        var ok = Check(null, Put(1, 0, 1, "a", 1), Put(2, 2, null, "x", ifVersion: 1, outcome: Outcome.Unknown),
            Put(1, 5, 6, "b", 3), Get(3, 7, 8, "b", 3));
        Assert.True(ok.IsOk, ok.ToString());
        // After b (v2), x's If-Match 1 cannot hold, so x cannot be what a later reader sees.
        var bad = Check(null, Put(1, 0, 1, "a", 1), Put(1, 2, 3, "b", 2), Put(2, 4, null, "x", ifVersion: 1, outcome: Outcome.Unknown),
            Get(3, 7, 8, "x", 3));
        Assert.True(bad.IsViolation, bad.ToString());
    }

    [Fact]
    public void Deletes_reset_the_version_by_default_and_can_be_told_to_continue_it()
    {
        Op[] ops = [Put(1, 0, 1, "a", 1), Put(1, 2, 3, "b", 2), Delete(1, 4, 5), Put(1, 6, 7, "c", 1, result: KvResult.Created)];
        Assert.True(Check(null, ops).IsOk);
        var cont = KvLinearizabilityChecker.Check(new History(ops, Meta), new KvCheckOptions { VersionAfterDelete = VersionAfterDelete.Continue });
        Assert.True(cont.IsViolation, cont.ToString());
        Op[] continued = [Put(1, 0, 1, "a", 1), Delete(1, 4, 5), Put(1, 6, 7, "c", 2)];
        Assert.True(KvLinearizabilityChecker.Check(new History(continued, Meta), new KvCheckOptions { VersionAfterDelete = VersionAfterDelete.Continue }).IsOk);
    }

    [Fact]
    public void A_delete_of_an_absent_key_is_an_observation()
    {
        var v = Check(null, Put(1, 0, 1, "a", 1), Delete(2, 2, 3, result: KvResult.NotFound));
        Assert.True(v.IsViolation, v.ToString());
        Assert.True(Check(null, Delete(2, 2, 3, result: KvResult.NotFound), Get(1, 4, 5, null)).IsOk);
    }

    [Fact]
    public void Keys_are_checked_apart()
    {
        var v = Check(null, Put(1, 0, 1, "a", 1, key: "k1"), Put(2, 0, 1, "a", 1, key: "k2"), Get(3, 2, 3, "a", 1, key: "k1"),
            Get(3, 4, 5, null, key: "k2"));
        Assert.True(v.IsViolation);
        Assert.Contains("t/k2", v.Explanation);
        Assert.DoesNotContain("t/k1", v.Explanation);
        Assert.Equal(2, v.Counts["keys"]);
    }

    [Fact]
    public void A_spent_budget_is_unknown_never_a_hang()
    {
        var history = RegisterHistories.Generate(seed: 7, processes: 12, opsPerKey: 400, keys: 1, unknownWrites: 30, zombieFraction: 0.5);
        var v = KvLinearizabilityChecker.Check(history, new KvCheckOptions { StepBudget = 50 });
        Assert.Equal(VerdictKind.Unknown, v.Kind);
        Assert.Contains("step budget", v.Explanation);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_large_history_with_hot_keys_and_unknown_writes_is_judged(int seed)
    {
        // About 10k ops over three hot keys, twelve clients, a few dozen unknown writes, some of them late.
        var history = RegisterHistories.Generate(seed, processes: 12, opsPerKey: 3400, keys: 3, unknownWrites: 40, zombieFraction: 0.3);
        var v = KvLinearizabilityChecker.Check(history);
        Assert.True(v.IsOk, v.ToString());
        Assert.True(v.OpsChecked >= 10_000);

        var broken = RegisterHistories.WithStaleRead(history, seed);
        var bad = KvLinearizabilityChecker.Check(broken);
        Assert.True(bad.IsViolation, bad.ToString());
    }

    [Fact]
    public void One_hot_key_with_ten_thousand_ops_and_an_effect_deadline_is_judged()
    {
        // The product's bounded effects close unknown writes at invoke + deadline (here 5 s), which keeps the search small.
        var history = RegisterHistories.Generate(seed: 1, processes: 12, opsPerKey: 10_000, keys: 1, unknownWrites: 60, zombieFraction: 0.3, effectDeadline: 500);
        var v = KvLinearizabilityChecker.Check(history);
        Assert.True(v.IsOk, v.ToString());
        Assert.Equal(60, v.Counts["indeterminate"]);
    }

    [Fact]
    public void Checks_all_reads_a_jsonl_file_and_runs_the_checkers_it_calls_for()
    {
        var path = Path.Combine(Path.GetTempPath(), $"history-{Guid.NewGuid():N}.jsonl");
        try
        {
            var history = RegisterHistories.Generate(seed: 5, processes: 4, opsPerKey: 200, keys: 2, unknownWrites: 5, zombieFraction: 0.5);
            using (var writer = HistoryWriter.Create(path, history.Meta))
            {
                foreach (var op in history.Ops)
                {
                    writer.Write(op);
                }
            }

            var verdicts = Checks.All(HistoryReader.ReadFile(path));
            var kv = Assert.Single(verdicts);
            Assert.Equal(KvLinearizabilityChecker.Name, kv.Checker);
            Assert.True(kv.IsOk, kv.ToString());
            Assert.Equal(400, kv.OpsChecked);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
