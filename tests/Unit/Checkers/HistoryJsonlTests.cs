using System.Text.Json;
using OrleansCompute.Faults.Checkers;

namespace OrleansCompute.Tests.Unit.Checkers;

public class HistoryJsonlTests
{
    [Fact]
    public void A_history_survives_the_jsonl_round_trip()
    {
        var meta = new HistoryMeta { TicksPerSecond = 1000, EffectDeadline = 5000, Workload = "kv", Seed = 42 };
        var ops = new[]
        {
            new Op { Kind = OpKinds.KvPut, Process = 1, Invoke = 10, Complete = 20, Outcome = Outcome.Ok, Status = 201, Table = "t", Key = "k0", Value = "c1-1", Version = 1, Result = KvResult.Created },
            new Op { Kind = OpKinds.KvPut, Process = 2, Invoke = 15, Outcome = Outcome.Unknown, Table = "t", Key = "k0", Value = "c2-1", IfVersion = 1 },
            new Op { Kind = OpKinds.BankRead, Process = 3, Invoke = 30, Complete = 40, Outcome = Outcome.Ok, Balances = new() { ["a"] = 5, ["b"] = 7 } },
            new Op { Kind = OpKinds.JobResult, Process = 4, Invoke = 50, Complete = 60, Outcome = Outcome.Ok, JobId = "j1", JobOutput = JsonDocument.Parse("{\"count\":664579}").RootElement, Tasks = [new TaskRecord { Index = 0, Attempt = 2, Status = "succeeded" }] },
        };

        var text = HistoryWriter.ToJsonl(new History(ops, meta));
        var back = HistoryReader.Parse(text);

        Assert.Equal(meta, back.Meta);
        Assert.Equal(4, back.Ops.Count);
        Assert.Equal(ops[0] with { Line = 2 }, back.Ops[0]);
        Assert.Null(back.Ops[1].Complete);
        Assert.Equal(Outcome.Unknown, back.Ops[1].Outcome);
        Assert.Equal(7, back.Ops[2].Balances!["b"]);
        Assert.Equal(664579, back.Ops[3].JobOutput!.Value.GetProperty("count").GetInt32());
        Assert.True(back.Ops[3].Tasks![0].IsCounted);
        Assert.Contains("\"outcome\":\"unknown\"", text);
        Assert.Contains("\"result\":\"created\"", text);
        Assert.DoesNotContain("\"ifAbsent\"", text); // nulls are left out
    }

    [Fact]
    public void A_bad_line_names_its_number()
    {
        var e = Assert.Throws<FormatException>(() => HistoryReader.Parse("{\"kind\":\"kv.get\"}\n{oops"));
        Assert.Contains("line 2", e.Message);
    }

    [Theory]
    [InlineData(null, null, Outcome.Unknown)]
    [InlineData(200, null, Outcome.Ok)]
    [InlineData(400, null, Outcome.Fail)]
    [InlineData(412, null, Outcome.Ok)]
    [InlineData(503, "https://x/problems/outcome-unknown", Outcome.Unknown)]
    [InlineData(503, "https://x/problems/shard-unavailable", Outcome.Fail)]
    [InlineData(500, null, Outcome.Unknown)]
    public void Answers_classify_by_spec_8(int? status, string? type, Outcome expected) =>
        Assert.Equal(expected, Outcomes.Classify(status, type, 404, 412));
}
