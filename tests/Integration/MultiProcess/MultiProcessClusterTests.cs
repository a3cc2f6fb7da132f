using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>
/// Three silos and the Api as separate processes against PostgreSQL, the way users run them:
/// one silo is SIGKILLed, the cluster declares it dead, and the Api answers throughout; another
/// is SIGTERMed and leaves on its own.
/// </summary>
public class MultiProcessClusterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan DeathTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Cluster_survives_sigkill_of_a_silo_and_a_sigterm_leaves_gracefully()
    {
        var database = await TestDatabase.CreateAsync("procs");
        var clusterId = $"procs-{Guid.NewGuid():N}";
        var common = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["Orleans__ClusterId"] = clusterId,
            ["Logging__LogLevel__Default"] = "Warning",
        };

        var silos = Enumerable.Range(0, 3).Select(_ => SiloNode.Start(common)).ToList();
        var apiPort = Ports.Free();
        await using var api = NodeProcess.Start("api", Repository.Binary("Api", "OrleansCompute.Api.dll"),
            new Dictionary<string, string>(common) { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{apiPort}", ["Auth__AdminKey"] = TestKeys.Admin });
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(40) };
            http.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Admin);
            var ready = await Task.WhenAll(silos.Select(s => s.WaitReadyAsync()));
            output.WriteLine($"time to ready, 3 silos started together: {string.Join(", ", ready.Select(r => $"{r.TotalSeconds:F1}s"))}");
            await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, ReadyTimeout, "Api ready");

            var tables = new List<string>();
            for (var i = 0; i < 12; i++)
            {
                var name = Names.Table("proc");
                Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{name}", null)).StatusCode);
                tables.Add(name);
            }

            // Keys on every shard of a 16-shard table, so some live on the silo about to die. Each acknowledged write counts.
            var data = tables[0];
            var acknowledged = new Dictionary<string, string>();
            for (var i = 0; i < 200; i++)
            {
                var put = await http.PutAsync($"/v1/tables/{data}/keys/key{i}", new StringContent($"{i}"));
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
                acknowledged[$"key{i}"] = put.Headers.ETag!.Tag;
            }

            // SIGKILL: the silo has no chance to say goodbye.
            var victim = silos[1];
            var killedAt = Stopwatch.StartNew();
            victim.Process.Kill();

            var answers = new List<HttpStatusCode>();
            var declaredDead = await Eventually.WaitAsync(async () =>
            {
                // The Api keeps answering while the cluster works it out: each call gets a definite answer.
                answers.Add((await http.GetAsync($"/v1/tables/{tables[answers.Count % tables.Count]}")).StatusCode);
                return await victim.StatusAsync(http) == "Dead";
            }, DeathTimeout, $"{victim.Name} to be declared dead");
            output.WriteLine($"killed silo declared dead after {killedAt.Elapsed.TotalSeconds:F1}s");
            Assert.All(answers, status => Assert.True(status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"answer {status}"));
            Assert.Contains("127.0.0.1", await VotersAsync(database, clusterId, victim.SiloPort));
            Assert.DoesNotContain($":{victim.SiloPort}@", await VotersAsync(database, clusterId, victim.SiloPort));

            // Nothing acknowledged is lost: every table is readable once the silo is declared dead.
            await Eventually.WaitAsync(async () =>
            {
                foreach (var table in tables)
                {
                    if ((await http.GetAsync($"/v1/tables/{table}")).StatusCode != HttpStatusCode.OK)
                    {
                        return false;
                    }
                }

                return true;
            }, TimeSpan.FromSeconds(60), "every table readable after the death");

            // Nothing acknowledged is lost: every key is back, at the version that was acknowledged.
            await Eventually.WaitAsync(async () =>
            {
                foreach (var (key, etag) in acknowledged)
                {
                    var read = await http.GetAsync($"/v1/tables/{data}/keys/{key}");
                    if (read.StatusCode != HttpStatusCode.OK)
                    {
                        return false;
                    }

                    Assert.Equal(etag, read.Headers.ETag!.Tag);
                }

                return true;
            }, TimeSpan.FromSeconds(60), "every acknowledged key readable after the death");

            // SIGTERM: the silo leaves on its own, at once, and says so in the membership.
            var leaver = silos[2];
            var terminatedAt = Stopwatch.StartNew();
            leaver.Process.Terminate();
            Assert.True(await leaver.Process.WaitForExitAsync(TimeSpan.FromSeconds(40)), "SIGTERM did not stop the silo:\n" + leaver.Process.Tail());
            output.WriteLine($"SIGTERM to exit: {terminatedAt.Elapsed.TotalSeconds:F1}s, exit code {leaver.Process.ExitCode}");
            Assert.Equal(0, leaver.Process.ExitCode);
            Assert.Equal("Dead", await leaver.StatusAsync(http));
            // A graceful leave is recorded by the silo itself, not voted by its peers after missed probes.
            Assert.Equal([$"127.0.0.1:{leaver.SiloPort}"], (await VotersAsync(database, clusterId, leaver.SiloPort)).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => v[..v.IndexOf('@')]));

            foreach (var table in tables)
            {
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/tables/{table}")).StatusCode);
            }

            var cluster = await http.GetFromJsonAsync<JsonElement>("/v1/cluster");
            Assert.Equal([silos[0].Name], cluster.GetProperty("silos").EnumerateArray()
                .Where(s => s.GetProperty("status").GetString() == "Active")
                .Select(s => s.GetProperty("name").GetString()));
        }
        catch
        {
            SiloNode.WriteTails(output, silos, api);
            throw;
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.Process.DisposeAsync();
            }
        }
    }

    // The silos that voted a silo dead, from the membership row's suspect list ("silo@generation,time|...").
    private static async Task<string> VotersAsync(string database, string clusterId, int port) =>
        string.Join(' ', ((await TestDatabase.ScalarAsync<string>(database,
                "SELECT suspect_times FROM oc_membership WHERE deployment_id = @cluster AND port = @port",
                ("cluster", clusterId), ("port", port))) ?? "")
            .Split('|', StringSplitOptions.RemoveEmptyEntries)
            .Select(vote => vote.Split(',')[0]));
}
