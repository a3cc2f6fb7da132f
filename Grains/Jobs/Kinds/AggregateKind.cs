using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansCompute.Grains.Jobs.Kinds;

/// <summary>
/// count/sum/min/max/avg of a numeric field over the values of a table. Data-local like
/// <see cref="WordCountKind"/>: shards summarise where they live, the job combines the summaries.
/// </summary>
public sealed class AggregateKind : ITaskKind
{
    public string Name => "aggregate";

    public string Description =>
        "count, sum, min, max and avg of a numeric field (a dotted path, e.g. \"order.total\"; omitted: the value itself) over a table's values. " +
        "Values without a number there are skipped. Result: {\"count\",\"sum\",\"min\",\"max\",\"avg\"}.";

    public InputSchema Schema { get; } = new(
        new SchemaField("table", FieldType.String, "The table to read.", Required: true, MaxLength: 128),
        new SchemaField("field", FieldType.String, "Dotted path to the number inside each value.", MaxLength: 256));

    public ValueTask<IReadOnlyList<PlannedTask>> PlanAsync(JsonElement input, PlanContext context, CancellationToken cancellationToken) =>
        TableTasks.PerShardAsync(input, context, cancellationToken);

    public async Task<JsonNode?> RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        // The field is in the job's input; each task's own input names only its shard.
        var path = run.JobInput.String("field")?.Split('.') ?? [];
        long count = 0;
        double sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        await foreach (var value in TableTasks.ValuesAsync(run, cancellationToken))
        {
            if (At(value, path) is { ValueKind: JsonValueKind.Number } number)
            {
                var x = number.GetDouble();
                count++;
                sum += x;
                min = Math.Min(min, x);
                max = Math.Max(max, x);
            }
        }

        return Summary(count, sum, min, max);
    }

    public JsonNode? Reduce(JsonElement input, IReadOnlyList<JsonNode?> results)
    {
        long count = 0;
        double sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var shard in results.Where(r => r!["count"]!.GetValue<long>() > 0))
        {
            count += shard!["count"]!.GetValue<long>();
            sum += shard["sum"]!.GetValue<double>();
            min = Math.Min(min, shard["min"]!.GetValue<double>());
            max = Math.Max(max, shard["max"]!.GetValue<double>());
        }

        var summary = Summary(count, sum, min, max);
        summary["avg"] = count == 0 ? null : sum / count;
        return summary;
    }

    private static JsonObject Summary(long count, double sum, double min, double max) => new()
    {
        ["count"] = count,
        ["sum"] = sum,
        ["min"] = count == 0 ? null : min,
        ["max"] = count == 0 ? null : max,
    };

    private static JsonElement? At(JsonElement value, string[] path)
    {
        foreach (var name in path)
        {
            if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(name, out value))
            {
                return null;
            }
        }

        return value;
    }
}
