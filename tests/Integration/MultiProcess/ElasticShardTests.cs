using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>
/// Shards follow the cluster (issue #11), with silo processes against PostgreSQL and clients
/// writing throughout: a joining silo gets its even share, a SIGTERMed silo hands its shards over
/// before it exits, and a SIGKILLed silo's keys serve again once it is declared dead. Nothing
/// acknowledged is lost, and no request fails other than with a retryable 503.
/// </summary>
public class ElasticShardTests(ITestOutputHelper output)
{
    private const int Counters = 20;
    private const int ShardsPerTable = 12;
    private static readonly TimeSpan BalanceDeadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_joining_silo_gets_its_share_and_a_leaving_silo_hands_over_without_losing_an_increment()
    {
        await using var run = await ElasticRun.StartAsync("join", silos: 2);
        try
        {
            // Tens of tables (240 shards), the scale the 30 s bound is stated for.
            var tables = await run.CreateTablesAsync(20);
            var counters = tables[0];
            await run.WaitBalancedAsync(tables, run.Silos, BalanceDeadline, "2 silos");
            await using var increments = await Increments.StartAsync(run.Http, counters, "the join");
            var log = increments.Log;

            // Join: a third silo, and within 30 s of its being ready every silo hosts 4 shards of each 12-shard table.
            var joiner = SiloNode.Start(run.Environment);
            run.Silos.Add(joiner);
            await joiner.WaitReadyAsync();
            var joinMark = log.Mark();
            var balanced = await run.WaitBalancedAsync(tables, run.Silos, BalanceDeadline, "3 silos after the join");
            output.WriteLine($"join: balanced {balanced.TotalSeconds:F1}s after the new silo was ready; {log.Report(joinMark)}");
            // The silos that gave shards away counted the moves and their hand-over time.
            using (var scrape = new HttpClient())
            {
                var metrics = await Task.WhenAll(run.Silos.Take(2).Select(s => scrape.GetStringAsync($"http://127.0.0.1:{s.HealthPort}/metrics")));
                Assert.Contains(metrics, m => m.Contains("oc_shard_moves_total", StringComparison.Ordinal) && m.Contains("oc_shard_handover_duration_seconds", StringComparison.Ordinal));
                Assert.All(metrics, m => Assert.Contains("oc_shards_hosted", m));
            }


            // Graceful leave: SIGTERM hands the shards over before the process exits 0.
            var leaver = run.Silos[0];
            var leaveMark = log.Mark();
            var terminated = Stopwatch.StartNew();
            leaver.Process.Terminate();
            Assert.True(await leaver.Process.WaitForExitAsync(TimeSpan.FromSeconds(40)), "SIGTERM did not stop the silo:\n" + leaver.Process.Tail());
            Assert.Equal(0, leaver.Process.ExitCode);
            output.WriteLine($"leave: exited {terminated.Elapsed.TotalSeconds:F1}s after SIGTERM");
            Assert.Contains("Drained", leaver.Process.Tail(400));
            run.Silos.Remove(leaver);
            await run.WaitBalancedAsync(tables, run.Silos, BalanceDeadline, "2 silos after the leave");
            var beforeStop = log.Acknowledged;
            await Eventually.WaitAsync(() => Task.FromResult(log.Acknowledged >= beforeStop + 100), TimeSpan.FromSeconds(60), "100 increments after the leave");
            output.WriteLine($"leave: {log.Report(leaveMark)}");

            await increments.StopAndVerifyAsync();
        }
        catch
        {
            run.WriteTails(output);
            throw;
        }
    }

    [Fact]
    public async Task A_killed_silos_keys_serve_their_last_acknowledged_value_again()
    {
        await using var run = await ElasticRun.StartAsync("kill", silos: 3);
        try
        {
            var tables = await run.CreateTablesAsync(1);
            var counters = tables[0];
            await run.WaitBalancedAsync(tables, run.Silos, BalanceDeadline, "3 silos");
            await using var increments = await Increments.StartAsync(run.Http, counters, "the kill");
            var log = increments.Log;

            var victim = run.Silos[1];
            var mark = log.Mark();
            victim.Process.Kill();
            var killed = Stopwatch.StartNew();
            await Eventually.WaitAsync(async () => await victim.StatusAsync(run.Http) == "Dead", TimeSpan.FromSeconds(120), $"{victim.Name} declared dead");
            var declared = killed.Elapsed;
            var dead = Stopwatch.GetTimestamp();
            // Every counter has answered a request sent after the death was known: the failover is over.
            await Eventually.WaitAsync(() => Task.FromResult(log.AllSucceededSince(dead, Counters)), TimeSpan.FromSeconds(90), "every counter to serve again after the kill");
            // Kept for reading a slow failover: which lease or directory step it waited on.
            foreach (var node in run.Silos)
            {
                node.Process.SaveLog("elastic-kill");
            }

            output.WriteLine($"kill: declared dead {declared.TotalSeconds:F1}s after SIGKILL, every key served again by {killed.Elapsed.TotalSeconds:F1}s; {log.Report(mark)}");
            run.Silos.Remove(victim);
            await run.WaitBalancedAsync(tables, run.Silos, TimeSpan.FromSeconds(90), "2 silos after the kill");

            await increments.StopAndVerifyAsync();
        }
        catch
        {
            run.WriteTails(output);
            throw;
        }
    }

    [Fact]
    public async Task A_reshard_whose_coordinator_is_killed_finishes_and_loses_nothing()
    {
        await using var run = await ElasticRun.StartAsync("reshard", silos: 3);
        try
        {
            var table = (await run.CreateTablesAsync(1))[0];
            foreach (var half in Enumerable.Range(0, 2000).Chunk(1000))
            {
                var batch = string.Join(',', half.Select(i => $$"""{"op":"put","key":"k{{i:D4}}","value":{{i}}}"""));
                Assert.Equal(HttpStatusCode.OK, (await run.Http.PostAsync($"/v1/tables/{table}/batch", Json($$"""{"ops":[{{batch}}]}"""))).StatusCode);
            }
            await using var increments = await Increments.StartAsync(run.Http, table, "the reshard");
            var log = increments.Log;

            var reshardMark = log.Mark();
            var patch = await run.Http.PatchAsync($"/v1/tables/{table}", Json("""{"shards": 48}"""));
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
            var coordinator = (await patch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("resharding").GetProperty("coordinator").GetString()!;
            var port = int.Parse(coordinator.Split('@')[0].Split(':')[1]);
            var victim = Assert.Single(run.Silos, s => s.SiloPort == port);
            victim.Process.Kill();
            var killed = Stopwatch.StartNew();
            run.Silos.Remove(victim);

            await Eventually.WaitAsync(async () =>
            {
                var response = await run.Http.GetAsync($"/v1/tables/{table}");
                var described = await response.Content.ReadFromJsonAsync<JsonElement>();
                return response.IsSuccessStatusCode && !described.TryGetProperty("resharding", out _) && described.GetProperty("shards").GetInt32() == 48;
            }, TimeSpan.FromSeconds(120), "the reshard to finish after its coordinator was killed");
            output.WriteLine($"reshard: finished {killed.Elapsed.TotalSeconds:F1}s after its coordinator was killed; {log.Report(reshardMark)}");

            await increments.StopAndVerifyAsync();
            var keys = new List<string>();
            string? after = null;
            do
            {
                var page = await run.Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys?prefix=k&limit=1000{(after is null ? "" : $"&after={after}")}");
                keys.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("key").GetString()!));
                after = page.GetProperty("next").GetString();
            }
            while (after is not null);
            Assert.Equal(Enumerable.Range(0, 2000).Select(i => $"k{i:D4}"), keys);
        }
        catch
        {
            run.WriteTails(output);
            throw;
        }
    }

    /// <summary>20 clients each incrementing a counter of its own (c0…c19) until stopped.</summary>
    private sealed class Increments(HttpClient http, string table) : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private List<Task> _workers = [];

        public IncrementLog Log { get; } = new();

        /// <summary>Creates the counters at 0, starts the clients, and returns once 100 increments were acknowledged.</summary>
        public static async Task<Increments> StartAsync(HttpClient http, string table, string before)
        {
            for (var i = 0; i < Counters; i++)
            {
                Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{table}/keys/c{i}", Json("0"))).StatusCode);
            }

            var increments = new Increments(http, table);
            increments._workers = [.. Enumerable.Range(0, Counters).Select(i => IncrementLoopAsync(http, table, $"c{i}", increments.Log, increments._stop.Token))];
            await Eventually.WaitAsync(() => Task.FromResult(increments.Log.Acknowledged >= 100), TimeSpan.FromSeconds(60), $"100 increments before {before}");
            return increments;
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_workers);
        }

        /// <summary>Stops the clients; every answer was a success or a retryable 503, and every acknowledged increment is in its counter.</summary>
        public async Task StopAndVerifyAsync()
        {
            await StopAsync();
            Assert.Empty(Log.Unexpected);
            await AssertCountersAsync(http, table, Log);
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }
    }

    // Read, then write the value plus one if the version is still the one read: a lost or doubled
    // acknowledged increment shows in the final value.
    private static async Task IncrementLoopAsync(HttpClient http, string table, string key, IncrementLog log, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                var read = await http.GetAsync($"/v1/tables/{table}/keys/{key}", CancellationToken.None);
                if (read.StatusCode != HttpStatusCode.OK)
                {
                    log.Refused(key, read.StatusCode, await read.Content.ReadAsStringAsync(CancellationToken.None));
                    await Task.Delay(50, CancellationToken.None);
                    continue;
                }

                var value = long.Parse(await read.Content.ReadAsStringAsync(CancellationToken.None));
                using var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/tables/{table}/keys/{key}") { Content = Json($"{value + 1}") };
                put.Headers.IfMatch.Add(read.Headers.ETag!);
                var written = await http.SendAsync(put, CancellationToken.None);
                var body = await written.Content.ReadAsStringAsync(CancellationToken.None);
                switch (written.StatusCode)
                {
                    case HttpStatusCode.OK:
                        log.Acknowledge(key, started);
                        break;
                    case HttpStatusCode.PreconditionFailed:
                        log.Succeeded(key, started);
                        break;
                    default:
                        log.Refused(key, written.StatusCode, body);
                        await Task.Delay(50, CancellationToken.None);
                        break;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // No answer: the write may or may not have happened.
                log.Unknown(key);
            }
        }
    }

    private static async Task AssertCountersAsync(HttpClient http, string table, IncrementLog log)
    {
        for (var i = 0; i < Counters; i++)
        {
            var key = $"c{i}";
            var read = await http.GetAsync($"/v1/tables/{table}/keys/{key}");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            var value = long.Parse(await read.Content.ReadAsStringAsync());
            var (acknowledged, unknown) = log.For(key);
            Assert.True(value >= acknowledged && value <= acknowledged + unknown,
                $"{key} is {value}, but {acknowledged} increments were acknowledged and {unknown} had no definite answer");
            Assert.Equal($"\"{value + 1}\"", read.Headers.ETag!.Tag);
        }
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>Every answer the incrementers got, and for each key the longest it went without one.</summary>
    private sealed class IncrementLog
    {
        private readonly ConcurrentDictionary<string, KeyLog> _keys = new();

        public ConcurrentQueue<string> Unexpected { get; } = new();

        public long Acknowledged => _keys.Values.Sum(k => Interlocked.Read(ref k.Acknowledged));

        public void Acknowledge(string key, long started)
        {
            var log = Key(key);
            Interlocked.Increment(ref log.Acknowledged);
            Succeeded(key, started);
        }

        public void Succeeded(string key, long started)
        {
            var log = Key(key);
            lock (log)
            {
                var now = Stopwatch.GetTimestamp();
                // The key was out of service from the end of its last good round trip until this one began, plus this one's time.
                if (log.LastSuccess != 0)
                {
                    log.Gaps.Add(Stopwatch.GetElapsedTime(log.LastSuccess, now));
                }

                log.LastSuccess = now;
                log.LastStarted = Math.Max(log.LastStarted, started);
            }
        }

        public void Unknown(string key) => Interlocked.Increment(ref Key(key).Unknown);

        public void Refused(string key, HttpStatusCode status, string body)
        {
            if (status != HttpStatusCode.ServiceUnavailable)
            {
                Unexpected.Enqueue($"{key}: {(int)status} {body}");
            }
            else if (body.Contains("outcome-unknown", StringComparison.Ordinal))
            {
                Unknown(key);
            }
        }

        public (long Acknowledged, long Unknown) For(string key) => (Interlocked.Read(ref Key(key).Acknowledged), Interlocked.Read(ref Key(key).Unknown));

        /// <summary>A point in the run: gaps are reported from here on.</summary>
        public long Mark()
        {
            var now = Stopwatch.GetTimestamp();
            foreach (var log in _keys.Values)
            {
                lock (log)
                {
                    log.Gaps.Clear();
                }
            }

            return now;
        }

        public bool AllSucceededSince(long mark, int keys) =>
            _keys.Count == keys && _keys.Values.All(k => { lock (k) { return k.LastStarted > mark; } });

        /// <summary>Per-key unavailability since the mark: the longest gap between good answers, max and p99 over keys.</summary>
        public string Report(long mark)
        {
            // A key still waiting for its next good answer counts its open gap too.
            var worst = _keys.Values.Select(k =>
            {
                lock (k)
                {
                    var open = k.LastSuccess == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(k.LastSuccess);
                    return k.Gaps.Append(open).Max();
                }
            }).Order().ToList();
            var p99 = worst[Math.Min(worst.Count - 1, (int)Math.Ceiling(worst.Count * 0.99) - 1)];
            return $"per-key unavailability max {worst[^1].TotalMilliseconds:F0} ms, p99 {p99.TotalMilliseconds:F0} ms, {Acknowledged} increments acknowledged";
        }

        private KeyLog Key(string key) => _keys.GetOrAdd(key, _ => new KeyLog());

        private sealed class KeyLog
        {
            public long Acknowledged;
            public long Unknown;
            public long LastSuccess;
            public long LastStarted;
            public List<TimeSpan> Gaps { get; } = [];
        }
    }

    /// <summary>Silo processes, and the Api in this process, on a database of their own.</summary>
    private sealed class ElasticRun : IAsyncDisposable
    {
        private ElasticRun(Dictionary<string, string> environment, ApiFactory api, HttpClient http)
        {
            Environment = environment;
            Api = api;
            Http = http;
        }

        public Dictionary<string, string> Environment { get; }

        public List<SiloNode> Silos { get; } = [];

        public ApiFactory Api { get; }

        public HttpClient Http { get; }

        public static async Task<ElasticRun> StartAsync(string purpose, int silos)
        {
            var database = await TestDatabase.CreateAsync(purpose);
            var clusterId = $"{purpose}-{Guid.NewGuid():N}";
            var environment = new Dictionary<string, string>
            {
                ["ConnectionStrings__Postgres"] = database,
                ["Orleans__ClusterId"] = clusterId,
                ["Logging__LogLevel__Default"] = "Warning",
                ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ",
                // The rebalancer's rounds and drains are what a failed run is read by.
                ["Logging__LogLevel__OrleansCompute.Grains.Data"] = "Debug",
            };
            var nodes = Enumerable.Range(0, silos).Select(_ => SiloNode.Start(environment)).ToList();
            try
            {
                await Task.WhenAll(nodes.Select(s => s.WaitReadyAsync()));
                var api = new ApiFactory(new Dictionary<string, string?>
                {
                    ["ConnectionStrings:Postgres"] = database,
                    ["Orleans:ClusterId"] = clusterId,
                    // 20 clients on a few keys; this test is about placement, not rate limits.
                    ["RateLimit:RequestsPerSecond"] = "1000000",
                });
                var http = await api.CreateReadyClientAsync();
                var run = new ElasticRun(environment, api, http);
                run.Silos.AddRange(nodes);
                return run;
            }
            catch
            {
                // Nothing owns the processes yet: a failed start must not leave silos running.
                foreach (var node in nodes)
                {
                    await node.Process.DisposeAsync();
                }

                throw;
            }
        }

        public async Task<List<string>> CreateTablesAsync(int count)
        {
            var tables = new List<string>();
            for (var i = 0; i < count; i++)
            {
                var name = Names.Table("elastic");
                Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{name}", Json($$"""{"shards": {{ShardsPerTable}}}"""))).StatusCode);
                tables.Add(name);
            }

            return tables;
        }

        /// <summary>Waits until every one of <paramref name="silos"/> hosts an even share of every table's shards, within one.</summary>
        public async Task<TimeSpan> WaitBalancedAsync(IReadOnlyList<string> tables, IReadOnlyList<SiloNode> silos, TimeSpan deadline, string what)
        {
            var last = "";
            try
            {
                return await Eventually.WaitAsync(async () =>
                {
                    var addresses = await AddressesAsync(silos);
                    var shares = new List<string>();
                    var even = true;
                    foreach (var table in tables)
                    {
                        var shards = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/shards");
                        var counts = addresses.Select(a => shards.GetProperty("items").EnumerateArray().Count(s => s.GetProperty("silo").GetString() == a)).ToList();
                        shares.Add(string.Join("/", counts));
                        var fair = ShardsPerTable / addresses.Count;
                        even &= counts.Sum() == ShardsPerTable && counts.All(c => c >= fair && c <= fair + (ShardsPerTable % addresses.Count == 0 ? 0 : 1));
                    }

                    last = string.Join(", ", shares);
                    return even;
                }, deadline, $"every silo to host an even share of each table ({what})");
            }
            catch (TimeoutException ex)
            {
                throw new TimeoutException($"{ex.Message} Last shares per table: {last}", ex);
            }
        }

        public void WriteTails(ITestOutputHelper output)
        {
            foreach (var silo in Silos)
            {
                output.WriteLine($"--- {silo.Name}\n{silo.Process.Tail(80)}");
                output.WriteLine($"full log: {silo.Process.SaveLog("elastic")}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Api.DisposeAsync();
            foreach (var silo in Silos)
            {
                await silo.Process.DisposeAsync();
            }
        }

        // The silos' addresses as the shard listing names them, from the membership.
        private async Task<List<string>> AddressesAsync(IReadOnlyList<SiloNode> silos)
        {
            var cluster = await Http.GetFromJsonAsync<JsonElement>("/v1/cluster");
            var byName = cluster.GetProperty("silos").EnumerateArray()
                .Where(s => s.GetProperty("status").GetString() == "Active")
                .ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("address").GetString()!);
            return [.. silos.Select(s => byName.TryGetValue(s.Name, out var address) ? address : "")];
        }
    }
}
