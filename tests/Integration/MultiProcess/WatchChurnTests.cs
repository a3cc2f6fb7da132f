using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using OrleansCompute.Tests.Watch;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>
/// Watch under churn (issue #14): a prefix is watched while 5,000 puts and deletes go on, the silo
/// process hosting a shard is SIGKILLed, a joining silo makes shards move, and the stream is
/// closed and resumed from its last id. The events received must be exactly the changes made:
/// every acknowledged write, none twice, in per-key order, and they must end at the final state.
/// </summary>
public class WatchChurnTests(ITestOutputHelper output)
{
    private const int Operations = 5_000;
    private const int Keys = 200;
    private const int Workers = 8;

    [Fact]
    public async Task A_watch_under_writes_a_silo_kill_and_shard_moves_receives_every_change_once_in_per_key_order()
    {
        var database = await TestDatabase.CreateAsync("watch-churn");
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["Orleans__ClusterId"] = $"watch-churn-{Guid.NewGuid():N}",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ",
        };
        var silos = Enumerable.Range(0, 3).Select(_ => SiloNode.Start(environment)).ToList();
        await using var cleanup = new Processes(silos);
        await Task.WhenAll(silos.Select(s => s.WaitReadyAsync()));
        await using var api = new ApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = database,
            ["Orleans:ClusterId"] = environment["Orleans__ClusterId"],
            ["RateLimit:RequestsPerSecond"] = "1000000",
            ["Watch:ProgressInterval"] = "00:00:00.500",
        });
        var http = await api.CreateReadyClientAsync(TimeSpan.FromSeconds(90));
        try
        {
            var table = await WatchApiTests.NewTableAsync(http, shards: 6);
            var (first, status) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch?prefix=w/");
            Assert.Equal(200, status);
            await Eventually.WaitAsync(() => Task.FromResult(first.LastId is not null), TimeSpan.FromSeconds(30), "the stream's first progress event");

            var log = new ConcurrentQueue<Write>();
            var done = 0;
            var workers = Enumerable.Range(0, Workers).Select(w => WriteLoopAsync(http, table, w, log, () => Interlocked.Increment(ref done))).ToList();

            // SIGKILL the silo hosting shard 0 once a fifth of the writes are in.
            await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref done) >= Operations / 5), TimeSpan.FromSeconds(120), "a fifth of the writes");
            var shards = await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/shards");
            var host = shards.GetProperty("items").EnumerateArray().First().GetProperty("silo").GetString()!;
            var port = int.Parse(host.Split('@')[0].Split(':')[1]);
            var victim = Assert.Single(silos, s => s.SiloPort == port);
            victim.Process.Kill();
            var killed = Stopwatch.StartNew();
            silos.Remove(victim);
            output.WriteLine($"killed {victim.Name} (hosting shard 0) after {Volatile.Read(ref done)} writes");

            // A joining silo takes its share of the shards: planned moves while the writes go on.
            var joiner = SiloNode.Start(environment);
            silos.Add(joiner);
            cleanup.Add(joiner);
            await joiner.WaitReadyAsync();
            await Eventually.WaitAsync(async () =>
            {
                var now = await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/shards");
                return now.GetProperty("items").EnumerateArray().Any(s => s.GetProperty("silo").GetString()!.Contains($":{joiner.SiloPort}@", StringComparison.Ordinal));
            }, TimeSpan.FromSeconds(90), "a shard to move onto the joining silo");
            output.WriteLine($"a shard moved onto {joiner.Name} {killed.Elapsed.TotalSeconds:F1}s after the kill, after {Volatile.Read(ref done)} writes");

            // Close the stream and resume from its last id while the writes go on.
            await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref done) >= Operations * 3 / 5), TimeSpan.FromSeconds(180), "three fifths of the writes");
            await first.DisposeAsync();
            var resumeFrom = first.LastId!;
            var (second, resumed) = await WatchReader.OpenRetryingAsync(http, $"/v1/tables/{table}/watch?prefix=w/", resumeFrom, TimeSpan.FromSeconds(60));
            Assert.Equal(200, resumed);
            await using var _ = second;
            await Task.WhenAll(workers);

            // The final state, and the changes the writers were told of.
            var final = await ScanAsync(http, table, "w/");
            var acknowledged = log.Where(w => w.Acknowledged).ToList();
            var uncertain = log.Count(w => !w.Acknowledged);
            await Eventually.WaitAsync(() => Task.FromResult(Covered(first, second, acknowledged)), TimeSpan.FromSeconds(60),
                "every acknowledged write to show as an event");

            var events = first.Changes.Concat(second.Changes).ToList();
            output.WriteLine($"{acknowledged.Count} acknowledged changes ({uncertain} with an unknown outcome), {events.Count} events ({first.Changes.Count} before the resume)");

            // None twice: per shard revisions are unique, so a key's revisions are too.
            Assert.Equal(events.Count, events.Select(e => (e.Key, e.Revision)).Distinct().Count());
            // Every acknowledged write appears, as what it was.
            var byRevision = events.ToDictionary(e => (e.Key, e.Revision));
            foreach (var write in acknowledged)
            {
                Assert.True(byRevision.TryGetValue((write.Key, write.Revision), out var seen), $"acknowledged {write} has no event");
                Assert.Equal(write.Delete ? "delete" : "put", seen.Type);
                if (!write.Delete)
                {
                    Assert.Equal(write.Version, seen.Version); // a delete's answer has no body to say its version
                }
            }

            // Anything else is a write whose answer was lost (an unknown outcome), never more than those.
            Assert.True(events.Count - acknowledged.Count <= uncertain, $"{events.Count - acknowledged.Count} events beyond the acknowledged writes, {uncertain} unknown outcomes");
            foreach (var key in events.Select(e => e.Key).Distinct())
            {
                var history = events.Where(e => e.Key == key).ToList();
                // Per-key order: revisions rise, and each version follows from the one before (a put
                // adds one, a delete ends the key at its version, a put after it starts at 1).
                long? version = null;
                var revision = 0L;
                foreach (var change in history)
                {
                    Assert.True(change.Revision > revision, $"{key}: revision {change.Revision} after {revision}");
                    revision = change.Revision;
                    if (change.Type == "put")
                    {
                        Assert.Equal((version ?? 0) + 1, change.Version);
                        version = change.Version;
                    }
                    else
                    {
                        Assert.Equal(version ?? change.Version, change.Version);
                        version = null;
                    }
                }

                // The last event is the final state.
                var last = history[^1];
                if (last.Type == "put")
                {
                    Assert.True(final.TryGetValue(key, out var value), $"{key}: the last event is a put but the key is gone");
                    Assert.Equal(Canonical(last.Data.GetProperty("value").GetRawText()), Canonical(value.Value));
                    Assert.Equal(last.Version, value.Version);
                }
                else
                {
                    Assert.False(final.ContainsKey(key), $"{key}: the last event is a delete but the key exists");
                }
            }

            Assert.All(final.Keys, key => Assert.Contains(events, e => e.Key == key));
        }
        catch
        {
            foreach (var silo in silos)
            {
                output.WriteLine($"--- {silo.Name}\n{silo.Process.Tail()}");
            }

            throw;
        }
    }

    private static bool Covered(WatchReader first, WatchReader second, List<Write> acknowledged)
    {
        var seen = first.Changes.Concat(second.Changes).Select(e => (e.Key, e.Revision)).ToHashSet();
        return acknowledged.All(w => seen.Contains((w.Key, w.Revision)));
    }

    private static async Task WriteLoopAsync(HttpClient http, string table, int worker, ConcurrentQueue<Write> log, Func<int> next)
    {
        var random = new Random(worker);
        while (next() <= Operations)
        {
            var key = $"w/{random.Next(Keys)}";
            var delete = random.Next(4) == 0;
            HttpResponseMessage response;
            try
            {
                response = delete
                    ? await http.DeleteAsync($"/v1/tables/{table}/keys/{key}")
                    : await http.PutAsync($"/v1/tables/{table}/keys/{key}", new StringContent($"{{\"w\": {worker}, \"n\": {random.Next()}}}", Encoding.UTF8, "application/json"));
            }
            catch (HttpRequestException)
            {
                log.Enqueue(new Write(key, delete, 0, 0, Acknowledged: false));
                continue;
            }

            using (response)
            {
                switch (response.StatusCode)
                {
                    case HttpStatusCode.OK or HttpStatusCode.Created:
                        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                        log.Enqueue(new Write(key, false, body.GetProperty("version").GetInt64(), body.GetProperty("revision").GetInt64(), Acknowledged: true));
                        break;
                    case HttpStatusCode.NoContent:
                        log.Enqueue(new Write(key, true, 0, long.Parse(response.Headers.GetValues("Revision").Single()), Acknowledged: true));
                        break;
                    case HttpStatusCode.NotFound:
                        break; // a delete of an absent key: no change
                    default:
                        // A retryable 503 changed nothing; an outcome-unknown one may have: either way
                        // it is not acknowledged, and may or may not show as an event.
                        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                        log.Enqueue(new Write(key, delete, 0, 0, Acknowledged: false));
                        break;
                }
            }
        }
    }

    private static async Task<Dictionary<string, (string Value, long Version)>> ScanAsync(HttpClient http, string table, string prefix)
    {
        var keys = new Dictionary<string, (string, long)>();
        string? after = null;
        do
        {
            var page = await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys?prefix={prefix}&limit=1000{(after is null ? "" : $"&after={after}")}");
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                keys[item.GetProperty("key").GetString()!] = (item.GetProperty("value").GetRawText(), item.GetProperty("version").GetInt64());
            }

            after = page.GetProperty("next").GetString();
        }
        while (after is not null);
        return keys;
    }

    private static string Canonical(string json) => JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement);

    private sealed record Write(string Key, bool Delete, long Version, long Revision, bool Acknowledged);

    private sealed class Processes(List<SiloNode> silos) : IAsyncDisposable
    {
        private readonly List<SiloNode> _all = [.. silos];

        public void Add(SiloNode silo) => _all.Add(silo);

        public async ValueTask DisposeAsync()
        {
            foreach (var silo in _all)
            {
                await silo.Process.DisposeAsync();
            }
        }
    }
}
