using System.Text.Json;
using OrleansCompute.Faults.Checkers;

namespace OrleansCompute.Tests.Unit.Checkers;

public class BankCheckerTests
{
    private static Op Init(params (string, long)[] balances) => new()
    {
        Kind = OpKinds.BankInit, Outcome = Outcome.Ok, Balances = balances.ToDictionary(b => b.Item1, b => b.Item2),
    };

    private static Op Read(long inv, long comp, params (string, long)[] balances) => new()
    {
        Kind = OpKinds.BankRead, Process = 9, Invoke = inv, Complete = comp, Outcome = Outcome.Ok,
        Balances = balances.ToDictionary(b => b.Item1, b => b.Item2),
    };

    private static Op Transfer(long inv, long? comp, string from, string to, long amount, Outcome outcome = Outcome.Ok, bool? succeeded = true) => new()
    {
        Kind = OpKinds.BankTransfer, Process = 1, Invoke = inv, Complete = comp, Outcome = outcome, From = from, To = to, Amount = amount,
        Succeeded = outcome == Outcome.Ok ? succeeded : null,
    };

    [Fact]
    public void Transfers_that_keep_the_total_and_explain_the_final_balances_are_ok()
    {
        var v = BankChecker.Check(new History([
            Init(("a", 100), ("b", 100)),
            Transfer(0, 1, "a", "b", 10),
            Read(2, 3, ("a", 90), ("b", 110)),
            Transfer(4, 5, "b", "a", 500, succeeded: false), // its compare failed: nothing moved
            Transfer(6, null, "a", "b", 5, Outcome.Unknown), // took effect, as it happens
            Transfer(7, 8, "a", "b", 1, Outcome.Fail),
            Read(20, 21, ("a", 85), ("b", 115)),
        ]));
        Assert.True(v.IsOk, v.ToString());
    }

    [Fact]
    public void A_read_with_a_wrong_total_is_a_violation()
    {
        var v = BankChecker.Check(new History([Init(("a", 100), ("b", 100)), Transfer(0, 3, "a", "b", 10), Read(1, 2, ("a", 90), ("b", 100))]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("total 190, not 200", v.Explanation);
    }

    [Fact]
    public void A_lost_acknowledged_transfer_is_a_violation()
    {
        var v = BankChecker.Check(new History([Init(("a", 100), ("b", 100)), Transfer(0, 1, "a", "b", 10), Read(5, 6, ("a", 100), ("b", 100))]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("lost", v.Explanation);
    }

    [Fact]
    public void A_transfer_that_failed_must_not_have_applied()
    {
        var v = BankChecker.Check(new History([Init(("a", 100), ("b", 100)), Transfer(0, 1, "a", "b", 10, Outcome.Fail), Read(5, 6, ("a", 90), ("b", 110))]));
        Assert.True(v.IsViolation, v.ToString());
    }

    [Fact]
    public void Without_an_initial_state_the_first_read_sets_the_total()
    {
        var v = BankChecker.Check(new History([Read(0, 1, ("a", 50), ("b", 50)), Read(2, 3, ("a", 40), ("b", 61))]));
        Assert.True(v.IsViolation, v.ToString());
    }
}

public class JobsCheckerTests
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static Op Submit(string id, string expected) => new()
    {
        Kind = OpKinds.JobSubmit, Outcome = Outcome.Ok, JobId = id, JobKind = "primes", Expected = Json(expected),
    };

    private static Op Result(string id, string status, string output) => new()
    {
        Kind = OpKinds.JobResult, Outcome = Outcome.Ok, JobId = id, JobStatus = status, JobOutput = Json(output),
    };

    private static Op Tasks(string id, params TaskRecord[] tasks) => new() { Kind = OpKinds.JobTasks, Outcome = Outcome.Ok, JobId = id, Tasks = [.. tasks] };

    [Fact]
    public void The_exact_answer_with_each_task_counted_once_is_ok()
    {
        var v = JobsChecker.Check(new History([
            Submit("j1", "{\"count\":664579}"),
            Tasks("j1", new TaskRecord { Index = 0, Attempt = 1, Status = "failed" }, new TaskRecord { Index = 0, Attempt = 2, Status = "succeeded" }),
            Tasks("j1", new TaskRecord { Index = 0, Attempt = 2, Status = "succeeded" }, new TaskRecord { Index = 1, Attempt = 1, Status = "succeeded" }),
            Result("j1", "succeeded", "{ \"count\": 664579 }"),
        ]));
        Assert.True(v.IsOk, v.ToString());
    }

    [Fact]
    public void A_wrong_answer_or_a_failed_job_is_a_violation()
    {
        Assert.True(JobsChecker.Check(new History([Submit("j1", "{\"count\":664579}"), Result("j1", "succeeded", "{\"count\":664580}")])).IsViolation);
        Assert.True(JobsChecker.Check(new History([Submit("j1", "{\"count\":664579}"), Result("j1", "failed", "null")])).IsViolation);
    }

    [Fact]
    public void A_task_counted_twice_is_a_violation()
    {
        var v = JobsChecker.Check(new History([
            Submit("j1", "{\"count\":2}"),
            Tasks("j1", new TaskRecord { Index = 3, Attempt = 1, Status = "succeeded" }),
            Tasks("j1", new TaskRecord { Index = 3, Attempt = 2, Status = "succeeded", Silo = "s2" }),
            Result("j1", "succeeded", "{\"count\":2}"),
        ]));
        Assert.True(v.IsViolation, v.ToString());
        Assert.Contains("task 3: results of attempts 1, 2", v.Explanation);
    }

    [Fact]
    public void A_job_never_seen_ending_is_unknown()
    {
        var v = JobsChecker.Check(new History([Submit("j1", "1")]));
        Assert.Equal(VerdictKind.Unknown, v.Kind);
    }
}
