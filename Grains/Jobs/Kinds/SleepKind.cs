using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansCompute.Grains.Jobs.Kinds;

/// <summary>
/// Tasks that wait and do nothing else: for trying retries (failAttempts), timeouts and
/// cancellation, and, with milliseconds 0, for measuring the cost of a task itself.
/// </summary>
public sealed class SleepKind : ITaskKind
{
    public string Name => "sleep";

    public string Description => "Each of `tasks` tasks sleeps `milliseconds`; the first `failAttempts` attempts of each task throw. Result: {\"tasks\"}.";

    public InputSchema Schema { get; } = new(
        new SchemaField("tasks", FieldType.Integer, "How many tasks.", Minimum: 1, Maximum: 1_000_000, Default: 1),
        new SchemaField("milliseconds", FieldType.Integer, "How long each task sleeps.", Minimum: 0, Maximum: 86_400_000, Default: 1000),
        new SchemaField("failAttempts", FieldType.Integer, "How many first attempts of each task throw.", Minimum: 0, Maximum: 100, Default: 0));

    public ValueTask<IReadOnlyList<PlannedTask>> PlanAsync(JsonElement input, PlanContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<PlannedTask>>(
            Enumerable.Range(0, (int)input.Int64("tasks", 1)).Select(_ => new PlannedTask(null)).ToList());

    public async Task<JsonNode?> RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        // Every task of a sleep job is alike: the settings are in the job's input.
        if (run.Attempt <= run.JobInput.Int64("failAttempts"))
        {
            throw new InvalidOperationException($"attempt {run.Attempt} fails on purpose (failAttempts)");
        }

        var milliseconds = run.JobInput.Int64("milliseconds", 1000);
        if (milliseconds > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(milliseconds), cancellationToken);
        }

        return null;
    }

    public JsonNode? Reduce(JsonElement input, IReadOnlyList<JsonNode?> results) => new JsonObject { ["tasks"] = results.Count };
}
