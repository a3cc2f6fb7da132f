using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.Observability;

/// <summary>
/// One PUT is one trace: the Api's server span, the Orleans call it makes, the shard grain's span
/// on the silo and the PostgreSQL commands of the commit, all connected, with the tenant and table
/// as attributes and the key nowhere. The Api and the silo run in this process so that one
/// in-memory exporter collects both sides.
/// </summary>
public sealed class TraceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_put_is_one_connected_trace_from_the_api_through_the_silo_into_postgresql()
    {
        var spans = new Spans();
        await using var cluster = await PostgresCluster.StartAsync("trace", silos: 1,
            siloSettings: new Dictionary<string, string?> { ["Tracing:Enabled"] = "true" },
            services: s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        await using var api = cluster.Api.WithWebHostBuilder(web =>
        {
            web.UseSetting("Tracing:Enabled", "true");
            web.ConfigureServices(s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        });
        var http = api.CreateClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Admin);
        await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the Api ready");
        var table = Names.Table("traced");
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{table}", null)).StatusCode);
        // A first write opens the shard (its own spans); the traced PUT is the second.
        const string key = "traced-key-not-an-attribute";
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{table}/keys/{key}", new StringContent("1"))).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await http.PutAsync($"/v1/tables/{table}/keys/{key}", new StringContent("2"))).StatusCode);

        Activity? request = null;
        List<Activity> trace = [];
        await Eventually.WaitAsync(() =>
        {
            var all = spans.Snapshot().GroupBy(s => s.SpanId).Select(g => g.First()).ToList();
            request = all.Where(s => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore"
                    && s.GetTagItem("http.request.method") as string == "PUT" && s.GetTagItem("http.response.status_code") is 200)
                .OrderBy(s => s.StartTimeUtc).LastOrDefault();
            if (request is null)
            {
                return Task.FromResult(false);
            }

            trace = [.. all.Where(s => s.TraceId == request.TraceId)];
            return Task.FromResult(trace.Any(s => s.Source.Name == "Npgsql") && trace.Any(s => s.Kind == ActivityKind.Server && s.Source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal)));
        }, TimeSpan.FromSeconds(30), "the PUT's spans, down to PostgreSQL");

        foreach (var span in trace.OrderBy(s => s.StartTimeUtc))
        {
            output.WriteLine($"{span.Source.Name,-32} {span.Kind,-8} {span.DisplayName} parent={span.ParentSpanId} {string.Join(' ', span.TagObjects.Select(t => $"{t.Key}={t.Value}"))}");
        }

        // Connected: every span but the root has its parent in the same trace.
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        Assert.All(trace.Where(s => s != request), s => Assert.Contains(s.ParentSpanId, ids));
        Assert.Equal(default, request!.ParentSpanId);
        Assert.Contains(trace, s => s.Kind == ActivityKind.Client && s.Source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));
        Assert.Contains(trace, s => s.Source.Name == "Npgsql");
        Assert.Equal("default", request.GetTagItem("oc.tenant"));
        Assert.Equal(table, request.GetTagItem("oc.table"));
        Assert.All(trace, s => Assert.DoesNotContain(s.TagObjects, t => t.Value?.ToString()?.Contains(key, StringComparison.Ordinal) == true));
        Assert.All(trace, s => Assert.DoesNotContain(key, s.DisplayName));
        // Grain ids are removed: a transactional key's grain id contains the key.
        Assert.All(trace, s => Assert.Null(s.GetTagItem("orleans.rpc.target_id")));
        Assert.All(trace, s => Assert.Null(s.GetTagItem("orleans.rpc.source_id")));
    }
}

/// <summary>The spans both exporters write to, from many threads.</summary>
internal sealed class Spans : ICollection<Activity>
{
    private readonly List<Activity> _items = [];

    public int Count
    {
        get
        {
            lock (_items)
            {
                return _items.Count;
            }
        }
    }

    public bool IsReadOnly => false;

    public List<Activity> Snapshot()
    {
        lock (_items)
        {
            return [.. _items];
        }
    }

    public void Add(Activity item)
    {
        lock (_items)
        {
            _items.Add(item);
        }
    }

    public void Clear()
    {
        lock (_items)
        {
            _items.Clear();
        }
    }

    public bool Contains(Activity item) => Snapshot().Contains(item);

    public void CopyTo(Activity[] array, int arrayIndex) => Snapshot().CopyTo(array, arrayIndex);

    public bool Remove(Activity item)
    {
        lock (_items)
        {
            return _items.Remove(item);
        }
    }

    public IEnumerator<Activity> GetEnumerator() => Snapshot().GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
