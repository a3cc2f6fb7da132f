using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs;

/// <summary>How a job's spec and plan are kept as JSON text in the store.</summary>
public static class JobDocuments
{
    public static string Serialize(JobSpec spec) => JsonSerializer.Serialize(spec);

    public static JobSpec DeserializeSpec(string json) =>
        JsonSerializer.Deserialize<JobSpec>(json) ?? throw new InvalidDataException("A stored job spec is null.");

    /// <summary>A stable hash of a spec, to tell a retried submission from a different one under the same idempotency key.</summary>
    public static string Hash(JobSpec spec)
    {
        // The input is hashed as parsed JSON, so whitespace and key order of the request do not matter.
        var canonical = spec with { Input = Canonical(JsonNode.Parse(spec.Input))?.ToJsonString() ?? "null" };
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Serialize(canonical))));
    }

    public static string Serialize(IReadOnlyList<PlannedTask> plan) =>
        new JsonArray(plan.Select(t =>
        {
            var task = new JsonObject { ["input"] = t.Input?.DeepClone(), ["shard"] = t.Shard };
            if (t.TransactionalShard is not null)
            {
                task["txnShard"] = t.TransactionalShard; // absent from plans stored before it existed
            }

            return (JsonNode)task;
        }).ToArray()).ToJsonString();

    public static List<PlannedTask> DeserializePlan(string json) =>
        JsonNode.Parse(json)!.AsArray()
            .Select(t => new PlannedTask(t!["input"]?.DeepClone(), t["shard"]?.GetValue<string>(), t["txnShard"]?.GetValue<string>()))
            .ToList();

    /// <summary>The job's result: the kind combines its tasks' result JSON, in task order.</summary>
    public static string? Reduce(ITaskKind kind, string specInput, IReadOnlyList<string?> results)
    {
        using var input = JsonDocument.Parse(specInput);
        return kind.Reduce(input.RootElement, results.Select(r => JsonNode.Parse(r ?? "null")).ToList())?.ToJsonString();
    }

    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Canonical).ToArray()),
        _ => node?.DeepClone(),
    };
}
