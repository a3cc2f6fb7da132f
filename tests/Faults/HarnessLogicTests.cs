using System.Diagnostics;
using VerdictKind = OrleansCompute.Faults.Checkers.VerdictKind;
using OrleansCompute.Tests.Faults.Harness;

namespace OrleansCompute.Tests.Faults;

/// <summary>The harness's pure parts: a seed replays its schedule, and unavailability is read off a history right.</summary>
public class HarnessLogicTests
{
    [Fact]
    public void A_seed_gives_the_same_schedule_every_time_and_a_quick_run_has_every_fault_once()
    {
        var first = FaultSchedule.Make(42, TimeSpan.FromMinutes(30), quick: true);
        var again = FaultSchedule.Make(42, TimeSpan.FromMinutes(30), quick: true);
        Assert.Equal(first, again);
        Assert.Equal(Enum.GetValues<FaultKind>().Order(), first.Select(p => p.Kind).Order());
        Assert.NotEqual(first, FaultSchedule.Make(43, TimeSpan.FromMinutes(30), quick: true));
    }

    [Fact]
    public void A_soak_schedule_repeats_rounds_of_every_fault_until_its_length()
    {
        var plans = FaultSchedule.Make(7, TimeSpan.FromMinutes(30), quick: false);
        Assert.True(plans.Count >= 2 * Enum.GetValues<FaultKind>().Length);
        // Enough faults for 30 minutes even if every phase takes only its fault and its calm.
        Assert.True(plans.Sum(p => (p.Duration + FaultSchedule.ShortestPhaseOverhead).TotalMinutes) >= 30);
        Assert.All(plans.Where(p => p.Kind == FaultKind.Pause), p => Assert.True(p.Duration >= TimeSpan.FromSeconds(8)));
        Assert.All(plans.Where(p => p.Kind == FaultKind.PostgresStop), p => Assert.Equal(TimeSpan.FromSeconds(20), p.Duration));
    }

    [Fact]
    public void Unavailability_is_the_longest_stretch_without_an_answer_and_recovery_the_first_answer_after_the_heal()
    {
        static Op Ok(double call, double answer) => new()
        {
            Kind = "kv.get", Workload = "kv", Resource = "k", Invoke = History.Ticks(call), Complete = History.Ticks(answer), Outcome = Outcomes.Ok,
        };

        var ops = new List<Op>
        {
            Ok(9, 9.5),                                                          // before the fault
            Ok(10.5, 11),                                                        // fault at 10
            new() { Kind = "kv.put", Workload = "kv", Resource = "k", Invoke = History.Ticks(11), Outcome = Outcomes.Unknown },
            Ok(18, 19),                                                          // sent before the heal at 20: not a recovery
            Ok(20.5, 22),                                                        // the first sent after the heal
            Ok(23, 23.5),
        };
        var measured = Assert.Single(Unavailability.Measure(ops, faultStart: 10, healAt: 20, phaseEnd: 24));
        Assert.Equal(8, measured.LongestGapSeconds, 3);   // 11 → 19
        Assert.Equal(2, measured.RecoverySeconds!.Value, 3);  // 20 → 22
        Assert.Equal(1, measured.Unknown);
        Assert.True(Stopwatch.Frequency > 0);
    }

    [Theory]
    [InlineData(3.0, true)]
    [InlineData(6.5, false)]
    public void The_kv_verdict_closes_a_write_of_unknown_outcome_at_the_effect_bound(double firstSeenAfter, bool linearizable)
    {
        // A put sent at 1 s and answered outcome-unknown; the old value is still read at
        // firstSeenAfter, the put's value 1.2 s later. Within the bound that is a late but legal
        // effect; past it, a write that took effect after its deadline.
        Op Get(double call, double answer, string value) => new()
        {
            Kind = "kv.get", Workload = "kv", Resource = "k", Table = "t", Key = "k", Invoke = History.Ticks(call), Complete = History.Ticks(answer),
            Outcome = Outcomes.Ok, Status = 200, Value = value, Version = value == "\"new\"" ? 2 : 1, Result = "ok",
        };
        var ops = new List<Op>
        {
            new() { Kind = "kv.put", Workload = "kv", Resource = "k", Table = "t", Key = "k", Invoke = History.Ticks(0), Complete = History.Ticks(0.1), Outcome = Outcomes.Ok, Status = 201, Value = "\"old\"", Result = "created" },
            new() { Kind = "kv.put", Workload = "kv", Resource = "k", Table = "t", Key = "k", Invoke = History.Ticks(1), Outcome = Outcomes.Unknown, Status = 503, Value = "\"new\"" },
            Get(firstSeenAfter, firstSeenAfter + 0.1, "\"old\""),
            Get(firstSeenAfter + 1.2, firstSeenAfter + 1.3, "\"new\""),
        };

        var verdict = Checking.Check("kv", ops, seed: 1, fault: "test");

        Assert.Equal(TimeSpan.FromSeconds(5), Checking.EffectBound);
        Assert.Equal(linearizable ? VerdictKind.Ok : VerdictKind.Violation, verdict.Kind);
    }

    [Fact]
    public void A_503_outcome_unknown_a_timeout_and_other_5xx_are_unknown_a_plain_503_applied_nothing()
    {
        Assert.Equal(Outcomes.Unknown, Outcomes.Classify(null, null));
        Assert.Equal(Outcomes.Unknown, Outcomes.Classify(503, "/problems/outcome-unknown"));
        Assert.Equal(Outcomes.Fail, Outcomes.Classify(503, "/problems/cluster-unavailable"));
        Assert.Equal(Outcomes.Unknown, Outcomes.Classify(500, null));
        Assert.Equal(Outcomes.Ok, Outcomes.Classify(412, null, 412));
        Assert.Equal(Outcomes.Fail, Outcomes.Classify(409, null));
    }
}
