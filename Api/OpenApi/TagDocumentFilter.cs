using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrleansCompute.Api.OpenApi;

/// <summary>Declares every tag the operations use, with what it groups; drops the schemas no operation uses.</summary>
public sealed class TagDocumentFilter : IDocumentFilter
{
    private static readonly Dictionary<string, string> Descriptions = new(StringComparer.Ordinal)
    {
        ["Tables"] = "Sharded tables: create, reshard, describe, list and drop.",
        ["Keys"] = "Keys of a table: versions, conditions, TTL, scans and batches.",
        ["Transactions"] = "ACID transactions across transactional tables.",
        ["Jobs"] = "Distributed jobs split into tasks, and the task kinds.",
        ["Schedules"] = "Recurring jobs on a cron schedule.",
        ["Cluster"] = "The silos as the membership sees them.",
        ["Admin"] = "Tenants and their API keys.",
        ["Coordination"] = "Leases, locks, elections and watches.",
    };

    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        var used = document.Paths.Values
            .SelectMany(path => path.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
            .SelectMany(operation => operation.Tags ?? new HashSet<OpenApiTagReference>())
            .Select(tag => tag.Name)
            .OfType<string>()
            .Distinct()
            .Order(StringComparer.Ordinal);
        document.Tags = new HashSet<OpenApiTag>(used.Select(name => new OpenApiTag
        {
            Name = name,
            Description = Descriptions.GetValueOrDefault(name, name),
        }));

        // An event stream's item type is described in prose under text/event-stream; its generated schema is left unused.
        foreach (var name in document.Components?.Schemas?.Keys.Where(k => k.EndsWith("SseItem", StringComparison.Ordinal)).ToList() ?? [])
        {
            document.Components!.Schemas!.Remove(name);
        }
    }
}
