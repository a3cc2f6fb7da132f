using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Api;

[Collection(SharedClusterCollection.Name)]
public class ClusterApiTests(SharedClusterFixture fixture)
{
    [Fact]
    public async Task Cluster_lists_every_active_silo_with_its_activations()
    {
        var cluster = await fixture.Http.GetFromJsonAsync<JsonElement>("/v1/cluster");

        var active = cluster.GetProperty("silos").EnumerateArray()
            .Where(s => s.GetProperty("status").GetString() == "Active")
            .ToList();
        Assert.Equal(
            fixture.Cluster.Silos.Select(s => $"test-silo-{s.SiloPort}").Order(),
            active.Select(s => s.GetProperty("name").GetString()).Order());
        Assert.All(active, silo => Assert.True(silo.GetProperty("activations").GetInt32() > 0));
        Assert.True(cluster.GetProperty("api").GetProperty("connected").GetBoolean());
    }

    [Fact]
    public async Task Cluster_shows_the_shards_each_silo_hosts_and_its_moves()
    {
        var table = Names.Table("hosted");
        Assert.Equal(HttpStatusCode.Created, (await fixture.Http.PutAsync($"/v1/tables/{table}", null)).StatusCode);
        var listed = await fixture.Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/shards");
        var perSilo = listed.GetProperty("items").EnumerateArray().GroupBy(s => s.GetProperty("silo").GetString()!).ToDictionary(g => g.Key, g => g.Count());

        var cluster = await fixture.Http.GetFromJsonAsync<JsonElement>("/v1/cluster");
        foreach (var silo in cluster.GetProperty("silos").EnumerateArray().Where(s => s.GetProperty("status").GetString() == "Active"))
        {
            // Other tests' shards live there too: at least this table's share.
            Assert.True(silo.GetProperty("shards").GetInt32() >= perSilo.GetValueOrDefault(silo.GetProperty("address").GetString()!), silo.ToString());
            Assert.True(silo.GetProperty("shardMovesInFlight").GetInt32() >= 0);
            Assert.True(silo.GetProperty("shardMovesCompleted").GetInt64() >= 0);
        }

        Assert.Equal(2, perSilo.Count);
    }

    [Fact]
    public async Task Health_is_served_without_the_cluster_path()
    {
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task Swagger_describes_the_api()
    {
        var document = await fixture.Http.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");
        var paths = document.GetProperty("paths");

        Assert.True(paths.TryGetProperty("/v1/cluster", out _));
        Assert.True(paths.TryGetProperty("/v1/tables/{table}", out var table));
        Assert.True(table.TryGetProperty("put", out var put));
        Assert.True(put.GetProperty("responses").TryGetProperty("409", out _));

        var ui = await fixture.Http.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
    }

    [Fact]
    public async Task Metrics_are_exposed_for_prometheus()
    {
        var metrics = await fixture.Http.GetStringAsync("/metrics");

        Assert.Contains("# TYPE", metrics);
    }
}
