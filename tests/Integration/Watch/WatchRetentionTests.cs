using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Watch;

/// <summary>
/// The change log's retention, on a cluster of its own whose silo keeps changes for half a second:
/// in PostgreSQL mode, and in embedded mode, where the SQLite store's own sweep statement raises
/// the shard's log floor and deletes the old changes.
/// </summary>
public class WatchRetentionTests
{
    private static readonly Dictionary<string, string?> ShortRetention = new()
    {
        ["Watch:Retention"] = "00:00:00.500",
        ["Watch:SweepPeriod"] = "00:00:00.200",
    };

    [Fact]
    public async Task A_cursor_older_than_the_retained_history_is_410_compacted_naming_the_oldest_revision_held()
    {
        await using var cluster = await PostgresCluster.StartAsync("watch-retention", silos: 1, siloSettings: ShortRetention);
        var http = await cluster.Api.CreateReadyClientAsync();
        await AssertCompactedAsync(http);
    }

    [Fact]
    public async Task Embedded_mode_sqlite_sweep_makes_an_old_cursor_410_compacted_naming_the_oldest_revision_held()
    {
        var primaryPort = Ports.Free();
        var settings = new Dictionary<string, string?>(ShortRetention);
        foreach (var (key, value) in InProcessSilo.EmbeddedSettings("watch-retention-embedded", primaryPort))
        {
            settings[key] = value;
        }
        await using var silo = await InProcessSilo.StartAsync(settings, primaryPort);
        await using var api = new ApiFactory(new Dictionary<string, string?>(settings) { ["Orleans:Gateways"] = $"127.0.0.1:{silo.GatewayPort}" });
        var http = await api.CreateReadyClientAsync();
        await AssertCompactedAsync(http);
    }

    // Five changes, then (once the sweep took some) a stream from revision 1 is 410 compacted with
    // the oldest revision held; a stream from that revision opens and sees a new change.
    private static async Task AssertCompactedAsync(HttpClient http)
    {
        var table = await WatchApiTests.NewTableAsync(http, shards: 1);
        for (var i = 0; i < 5; i++)
        {
            await WatchApiTests.PutAsync(http, table, $"k{i}", $"{i}");
        }

        JsonElement problem = default;
        await Eventually.WaitAsync(async () =>
        {
            // Headers only: a stream that opens (not compacted yet) is closed at once.
            var response = await http.GetAsync($"/v1/tables/{table}/watch?fromRevision=1", HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode != HttpStatusCode.Gone)
            {
                response.Dispose();
                return false;
            }

            problem = await AssertProblemAsync(response, HttpStatusCode.Gone);
            return true;
        }, TimeSpan.FromSeconds(30), "the sweep to compact the first revisions");

        Assert.Equal("urn:orleans-compute:problem:compacted", problem.GetProperty("type").GetString());
        var oldest = problem.GetProperty("oldestRevision").GetInt64();
        Assert.True(oldest > 1, problem.GetRawText());
        Assert.Equal(0, problem.GetProperty("shard").GetInt32());

        // From the oldest revision held the stream opens and a new change arrives. The sweep goes on
        // meanwhile (0.5 s retention): a later open may be 410 naming a newer oldest revision, and on
        // a loaded machine an open stream may fall behind it and end with `compacted`; then again
        // from the newer one.
        var revision = await WatchApiTests.PutAsync(http, table, "later", "1");
        await Eventually.WaitAsync(async () =>
        {
            var (opened, status) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch?fromRevision={oldest}");
            await using (opened)
            {
                if (status != 200)
                {
                    Assert.Equal(410, status);
                    Assert.True(opened.Problem.GetProperty("oldestRevision").GetInt64() >= oldest);
                    oldest = opened.Problem.GetProperty("oldestRevision").GetInt64();
                    return false;
                }

                try
                {
                    await Eventually.WaitAsync(() => Task.FromResult(opened.Changes.Any(e => e.Revision == revision) || opened.Ended),
                        TimeSpan.FromSeconds(30), "the new change or the stream's end");
                }
                catch (TimeoutException)
                {
                    return false;
                }

                return opened.Changes.Any(e => e.Revision == revision);
            }
        }, TimeSpan.FromSeconds(90), "a stream from the oldest revision held that delivers a new change");

        // The keys themselves are untouched by the sweep.
        Assert.Equal(6, (await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys")).GetProperty("items").GetArrayLength());
    }
}
