using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansCompute.Grains.Jobs.Kinds;

/// <summary>
/// The most frequent words over the string values of a table. Data-local: each shard's words are
/// counted on the silo that hosts it (map); the job merges the counts (reduce).
/// </summary>
public sealed class WordCountKind : ITaskKind
{
    public string Name => "wordcount";

    public string Description =>
        "Counts words (letters and digits, case-folded) in the string values of a table, and in their string fields one level down. " +
        "Result: {\"words\": total, \"top\": [{\"word\",\"count\"}]}.";

    public InputSchema Schema { get; } = new(
        new SchemaField("table", FieldType.String, "The table to read.", Required: true, MaxLength: 128),
        new SchemaField("top", FieldType.Integer, "How many of the most frequent words to return.", Minimum: 1, Maximum: 1000, Default: 10));

    public ValueTask<IReadOnlyList<PlannedTask>> PlanAsync(JsonElement input, PlanContext context, CancellationToken cancellationToken) =>
        TableTasks.PerShardAsync(input, context, cancellationToken);

    public async Task<JsonNode?> RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        await foreach (var value in TableTasks.ValuesAsync(run, cancellationToken))
        {
            foreach (var text in Strings(value))
            {
                CountWords(text, counts);
            }
        }

        var result = new JsonObject();
        foreach (var (word, count) in counts)
        {
            result[word] = count;
        }

        return result;
    }

    public JsonNode? Reduce(JsonElement input, IReadOnlyList<JsonNode?> results)
    {
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var shard in results)
        {
            foreach (var (word, count) in shard!.AsObject())
            {
                totals[word] = totals.GetValueOrDefault(word) + count!.GetValue<long>();
            }
        }

        var top = totals
            .OrderByDescending(p => p.Value)
            .ThenBy(p => p.Key, StringComparer.Ordinal)
            .Take((int)input.Int64("top", 10))
            .Select(p => (JsonNode)new JsonObject { ["word"] = p.Key, ["count"] = p.Value });
        return new JsonObject { ["words"] = totals.Values.Sum(), ["top"] = new JsonArray(top.ToArray()) };
    }

    private static IEnumerable<string> Strings(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => [value.GetString()!],
        JsonValueKind.Object => value.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String).Select(p => p.Value.GetString()!),
        _ => [],
    };

    /// <summary>Words are runs of letters and digits; case-folded with the invariant culture.</summary>
    public static void CountWords(string text, Dictionary<string, long> counts)
    {
        var word = new StringBuilder();
        foreach (var c in text + " ")
        {
            if (char.IsLetterOrDigit(c))
            {
                word.Append(char.ToLower(c, CultureInfo.InvariantCulture));
            }
            else if (word.Length > 0)
            {
                var key = word.ToString();
                counts[key] = counts.GetValueOrDefault(key) + 1;
                word.Clear();
            }
        }
    }
}
