using System.Net;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Watch;

/// <summary>Revisions and resume across a full restart of every silo, in PostgreSQL mode and in embedded (SQLite) mode.</summary>
public class WatchRestartTests
{
    [Fact]
    public async Task Postgres_mode_revisions_continue_above_everything_durable_and_a_cursor_resumes_across_a_full_restart()
    {
        await using var cluster = await PostgresCluster.StartAsync("watch-restart", silos: 1);
        var http = await cluster.Api.CreateReadyClientAsync();
        await AssertRevisionsSurviveAsync(http, async () =>
        {
            await cluster.StopSilosAsync();
            await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable,
                TimeSpan.FromSeconds(30), "the Api to notice the cluster is gone");
            await cluster.StartSilosAsync(1);
            await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the cluster back");
        });
    }

    [Fact]
    public async Task Embedded_mode_revisions_and_the_change_log_survive_a_full_restart()
    {
        var primaryPort = Ports.Free();
        var settings = new Dictionary<string, string?>(InProcessSilo.EmbeddedSettings("watch-embedded", primaryPort))
        {
            // The sweep runs (SQLite's statement), but keeps everything this test writes.
            ["Watch:SweepPeriod"] = "00:00:00.500",
        };
        var silo = await InProcessSilo.StartAsync(settings, primaryPort);
        await using var api = new ApiFactory(new Dictionary<string, string?>(settings) { ["Orleans:Gateways"] = $"127.0.0.1:{silo.GatewayPort}" });
        var http = await api.CreateReadyClientAsync();
        try
        {
            await AssertRevisionsSurviveAsync(http, async () =>
            {
                var (port, gateway) = (silo.SiloPort, silo.GatewayPort);
                await silo.DisposeAsync();
                await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable,
                    TimeSpan.FromSeconds(30), "the Api to notice the cluster is gone");
                silo = await InProcessSilo.StartAsync(settings, port, gateway);
                await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the cluster back");
            });
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    // A put and a delete (the deleted key's revision lives only in the change log), a restart, then
    // a put: its revision is above both, and a stream from before the restart sees all three once.
    private static async Task AssertRevisionsSurviveAsync(HttpClient http, Func<Task> restart)
    {
        var table = await WatchApiTests.NewTableAsync(http, shards: 1);
        var first = await WatchApiTests.PutAsync(http, table, "a", "1");
        var gone = await http.DeleteAsync($"/v1/tables/{table}/keys/a");
        Assert.Equal(HttpStatusCode.NoContent, gone.StatusCode);
        var deleted = long.Parse(gone.Headers.GetValues("Revision").Single());
        Assert.True(deleted > first);

        await restart();

        var after = await WatchApiTests.PutAsync(http, table, "b", "2");
        Assert.True(after > deleted, $"revision {after} after the restart, {deleted} before");

        var (replay, replayed) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch?fromRevision=1");
        Assert.Equal(200, replayed);
        await using (replay)
        {
            await WatchApiTests.WaitForAsync(replay, 3);
            Assert.Equal([("put", "a", first), ("delete", "a", deleted), ("put", "b", after)], replay.Changes.Select(e => (e.Type, e.Key, e.Revision)));
            Assert.Equal(JsonValueKind.Null, replay.Changes[1].Data.GetProperty("value").ValueKind);
        }
    }
}
