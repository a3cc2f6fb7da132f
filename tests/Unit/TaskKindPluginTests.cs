using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Grains.Jobs;
using OrleansCompute.Grains.Jobs.Kinds;

namespace OrleansCompute.Tests.Unit;

/// <summary>The README's plug-in walk-through, compiled and run: one class, one DI registration.</summary>
public class TaskKindPluginTests
{
    [Fact]
    public async Task A_kind_registered_with_DI_is_published_and_runs()
    {
        var services = new ServiceCollection().AddJobs().AddTaskKind<SquaresKind>().BuildServiceProvider();
        var kinds = new TaskKinds(services.GetServices<ITaskKind>());

        var info = Assert.Single(kinds.Describe(), k => k.Name == "squares");
        Assert.Contains("\"required\":[\"from\",\"to\"]", info.InputSchema);

        var kind = kinds.Get("squares");
        var input = JsonDocument.Parse("""{"from": 1, "to": 25000}""").RootElement;
        var plan = await kind.PlanAsync(input, new PlanContext("t", null!), default);
        var results = new List<JsonNode?>();
        foreach (var (task, index) in plan.Select((t, i) => (t, i)))
        {
            var taskInput = JsonDocument.Parse(task.Input!.ToJsonString()).RootElement;
            results.Add(await kind.RunAsync(new TaskRun("t", index, 1, taskInput, input, null!), default));
        }

        Assert.Equal(3, plan.Count);
        Assert.Equal(Enumerable.Range(1, 25000).Sum(n => (long)n * n), kind.Reduce(input, results)!["sum"]!.GetValue<long>());
    }

    [Fact]
    public void Two_kinds_with_one_name_are_refused() =>
        Assert.Throws<InvalidOperationException>(() => new TaskKinds([new SquaresKind(), new SquaresKind()]));

    /// <summary>Exactly the example in the README.</summary>
    public sealed class SquaresKind : ITaskKind
    {
        public string Name => "squares";

        public string Description => "Sums n² for n in [from, to]. Result: {\"sum\"}.";

        public InputSchema Schema { get; } = new(
            new SchemaField("from", FieldType.Integer, "First n.", Required: true, Minimum: 0, Maximum: 1_000_000),
            new SchemaField("to", FieldType.Integer, "Last n.", Required: true, Minimum: 0, Maximum: 1_000_000));

        public ValueTask<IReadOnlyList<PlannedTask>> PlanAsync(JsonElement input, PlanContext context, CancellationToken ct)
        {
            var (from, to) = (input.Int64("from"), input.Int64("to"));
            if (to < from)
            {
                throw new InvalidInputException("input.to", "must be at least input.from.");
            }

            var tasks = new List<PlannedTask>();
            for (var start = from; start <= to; start += 10_000)
            {
                tasks.Add(new PlannedTask(new JsonObject { ["from"] = start, ["to"] = Math.Min(to, start + 9_999) }));
            }

            return ValueTask.FromResult<IReadOnlyList<PlannedTask>>(tasks);
        }

        public Task<JsonNode?> RunAsync(TaskRun run, CancellationToken ct)
        {
            long sum = 0;
            for (var n = run.Input.Int64("from"); n <= run.Input.Int64("to"); n++)
            {
                sum += n * n;
            }

            return Task.FromResult<JsonNode?>(new JsonObject { ["sum"] = sum });
        }

        public JsonNode? Reduce(JsonElement input, IReadOnlyList<JsonNode?> results) =>
            new JsonObject { ["sum"] = results.Sum(r => r!["sum"]!.GetValue<long>()) };
    }
}
