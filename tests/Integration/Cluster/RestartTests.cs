using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Cluster;

/// <summary>Tables, keys and versions (and job retries and deletions) survive a full restart of the cluster, in both storage modes, and the Api follows the silos.</summary>
public class RestartTests
{
    [Fact]
    public async Task Postgres_mode_state_survives_a_full_cluster_restart()
    {
        await using var cluster = await PostgresCluster.StartAsync("restart", silos: 2);
        var http = await cluster.Api.CreateReadyClientAsync();
        var before = await CreateTablesAsync(http);
        // A retried job and a deleted one: both are rows, so both outlive every silo.
        var failed = await http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1, "failAttempts": 1}, "retry": {"maxAttempts": 1}}""");
        await http.WaitForEndAsync(failed);
        var retry = (await (await http.PostAsync($"/v1/jobs/{failed}/retry", null)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        var deleted = await http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}""");
        await http.WaitForEndAsync(deleted);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/v1/jobs/{deleted}")).StatusCode);

        await cluster.StopSilosAsync();
        await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(30), "the Api to notice the cluster is gone");
        await cluster.StartSilosAsync(2);

        await AssertTablesAsync(http, before);
        var again = await http.PostAsync($"/v1/jobs/{failed}/retry", null);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(retry, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
        Assert.Equal(failed, (await http.JobAsync(retry!)).GetProperty("retryOf").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/jobs/{deleted}")).StatusCode);
    }

    [Fact]
    public async Task Embedded_mode_state_transactional_tables_and_an_unfinished_job_survive_a_full_cluster_restart()
    {
        var primaryPort = Ports.Free();
        var settings = new Dictionary<string, string?>(InProcessSilo.EmbeddedSettings("embedded", primaryPort))
        {
            ["Jobs:RecoveryPeriod"] = "00:00:05",
        };
        var silos = await StartEmbeddedAsync(settings, primaryPort);
        await using var api = new ApiFactory(new Dictionary<string, string?>(settings)
        {
            ["Orleans:Gateways"] = string.Join(",", silos.Select(s => $"127.0.0.1:{s.GatewayPort}")),
        });
        var http = await api.CreateReadyClientAsync();
        var before = await CreateTablesAsync(http);
        var job = await http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 20, "milliseconds": 300}, "parallelism": 1}""");
        await Eventually.WaitAsync(async () => (await http.JobAsync(job)).Progress("succeeded") >= 2, TimeSpan.FromSeconds(60), "some tasks done");
        // Transactional tables work in embedded mode too (Orleans' adapter over the SQLite grain storage).
        var bank = await Transactions.TxnTestClient.NewTransactionalTableAsync(http, shards: 2);
        await Transactions.TxnTestClient.TxnOkAsync(http, $$"""{"success":[{"op":"put","table":"{{bank}}","key":"a","value":10},{"op":"put","table":"{{bank}}","key":"b","value":0}]}""");
        await Transactions.TxnTestClient.TxnOkAsync(http, $$"""{"compare":[{"table":"{{bank}}","key":"a","target":"value","op":">=","value":4}],"success":[{"op":"add","table":"{{bank}}","key":"a","value":-4},{"op":"add","table":"{{bank}}","key":"b","value":4}]}""");

        // Resharding in embedded mode: the SQLite store seals and hands over like PostgreSQL's.
        var resharded = Names.Table("embedded");
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{resharded}", Json("""{"shards": 4}"""))).StatusCode);
        var ops = string.Join(',', Enumerable.Range(0, 50).Select(i => $$"""{"op":"put","key":"r{{i}}","value":{{i}}}"""));
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/v1/tables/{resharded}/batch", Json($$"""{"ops":[{{ops}}]}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await http.PatchAsync($"/v1/tables/{resharded}", Json("""{"shards": 8}"""))).StatusCode);
        await Eventually.WaitAsync(async () => !(await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{resharded}")).TryGetProperty("resharding", out _),
            TimeSpan.FromSeconds(60), "the embedded reshard to finish");

        foreach (var silo in silos.AsEnumerable().Reverse())
        {
            await silo.DisposeAsync();
        }

        await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(30), "the Api to notice the cluster is gone");
        // The same ports as before: in embedded mode the Api has a static gateway list.
        var restarted = await StartEmbeddedAsync(settings, silos);
        try
        {
            await AssertTablesAsync(http, before);
            var reloaded = await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{resharded}");
            Assert.Equal((8, 50L), (reloaded.GetProperty("shards").GetInt32(), reloaded.GetProperty("keyCount").GetInt64()));
            Assert.Equal("49", await http.GetStringAsync($"/v1/tables/{resharded}/keys/r49"));
            var finished = await http.WaitForEndAsync(job);
            Assert.Equal(("succeeded", 20), (finished.Status(), finished.GetProperty("result").GetProperty("tasks").GetInt32()));
            Assert.Equal("6", await Transactions.TxnTestClient.ValueAsync(http, bank, "a"));
            Assert.Equal("4", await Transactions.TxnTestClient.ValueAsync(http, bank, "b"));
        }
        finally
        {
            foreach (var silo in restarted.AsEnumerable().Reverse())
            {
                await silo.DisposeAsync();
            }
        }
    }

    // The primary first: in embedded mode the others join the cluster through it.
    private static async Task<List<InProcessSilo>> StartEmbeddedAsync(Dictionary<string, string?> settings, int primaryPort)
    {
        var primary = await InProcessSilo.StartAsync(settings, primaryPort);
        var second = await InProcessSilo.StartAsync(settings);
        return [primary, second];
    }

    private static async Task<List<InProcessSilo>> StartEmbeddedAsync(Dictionary<string, string?> settings, List<InProcessSilo> sameEndpointsAs)
    {
        var primary = await InProcessSilo.StartAsync(settings, sameEndpointsAs[0].SiloPort, sameEndpointsAs[0].GatewayPort);
        var second = await InProcessSilo.StartAsync(settings, sameEndpointsAs[1].SiloPort, sameEndpointsAs[1].GatewayPort);
        return [primary, second];
    }

    private static async Task<Dictionary<string, JsonElement>> CreateTablesAsync(HttpClient http)
    {
        var tables = new Dictionary<string, JsonElement>();
        for (var i = 0; i < 6; i++)
        {
            var name = Names.Table("restart");
            var response = await http.PutAsync($"/v1/tables/{name}", JsonContent.Create(new { shards = i + 1 }));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            tables[name] = await response.Content.ReadFromJsonAsync<JsonElement>();
            // Key k<j> is written j + 1 times, so it must come back at version j + 1 with the last value.
            for (var j = 0; j < 5; j++)
            {
                for (var write = 0; write <= j; write++)
                {
                    var put = await http.PutAsync($"/v1/tables/{name}/keys/k{j}", new StringContent($"{{\"write\":{write}}}"));
                    Assert.True(put.IsSuccessStatusCode);
                }
            }
        }

        return tables;
    }

    private static async Task AssertTablesAsync(HttpClient http, Dictionary<string, JsonElement> before)
    {
        await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(60), "the Api to reconnect to the restarted cluster");
        foreach (var (name, table) in before)
        {
            for (var j = 0; j < 5; j++)
            {
                var key = await http.GetAsync($"/v1/tables/{name}/keys/k{j}");
                Assert.Equal(HttpStatusCode.OK, key.StatusCode);
                Assert.Equal($"\"{j + 1}\"", key.Headers.ETag?.Tag);
                Assert.Equal($"{{\"write\":{j}}}", await key.Content.ReadAsStringAsync());
            }

            var after = await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{name}");
            Assert.Equal(
                (table.GetProperty("shards").GetInt32(), table.GetProperty("createdAt").GetString()),
                (after.GetProperty("shards").GetInt32(), after.GetProperty("createdAt").GetString()));
        }

        var listed = await http.GetFromJsonAsync<JsonElement>("/v1/tables?limit=1000");
        var names = listed.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToHashSet();
        Assert.Superset(before.Keys.ToHashSet(), names!);
    }
}
