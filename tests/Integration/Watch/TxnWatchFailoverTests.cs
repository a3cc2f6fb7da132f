using System.Net;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using OrleansCompute.Tests.Transactions;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.Watch;

/// <summary>
/// Watch on a transactional table while silo processes die (issue #14): increments run as
/// transactions on a few keys, a silo process is SIGKILLed, and the stream is closed and resumed
/// from its last id. Every key's events must be exactly its versions 1..final, once each, in
/// order, each with the value that version had (n increments from absent: value n at version n),
/// whatever the outcome of the transactions caught by the kill.
/// </summary>
public class TxnWatchFailoverTests(ITestOutputHelper output)
{
    private const int Operations = 400;
    private const int Keys = 12;
    private const int Workers = 6;

    [Fact]
    public async Task A_watch_on_a_transactional_table_through_a_silo_kill_and_a_resume_sees_every_committed_increment_once_in_order()
    {
        var database = await TestDatabase.CreateAsync("txn-watch-kill");
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["Orleans__ClusterId"] = $"txn-watch-{Guid.NewGuid():N}",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        var silos = Enumerable.Range(0, 3).Select(_ => SiloNode.Start(environment)).ToList();
        try
        {
            await Task.WhenAll(silos.Select(s => s.WaitReadyAsync()));
            await using var api = new ApiFactory(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = database,
                ["Orleans:ClusterId"] = environment["Orleans__ClusterId"],
                ["RateLimit:RequestsPerSecond"] = "1000000",
                ["Watch:ProgressInterval"] = "00:00:00.500",
            });
            var http = await api.CreateReadyClientAsync(TimeSpan.FromSeconds(90));
            var table = await http.NewTransactionalTableAsync(shards: 2);
            var (first, status) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch?prefix=w/");
            Assert.Equal(200, status);
            await Eventually.WaitAsync(() => Task.FromResult(first.LastId is not null), TimeSpan.FromSeconds(30), "the stream's first progress event");

            var (done, committed, unknown) = (0, 0, 0);
            var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
            {
                var random = new Random(w);
                while (Interlocked.Increment(ref done) <= Operations)
                {
                    var body = $$"""{"success": [{"op": "add", "table": "{{table}}", "key": "w/{{random.Next(Keys)}}", "value": 1}]}""";
                    try
                    {
                        using var response = await http.TxnAsync(body);
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            Interlocked.Increment(ref committed);
                        }
                        else if ((await response.Content.ReadAsStringAsync()).Contains("outcome-unknown", StringComparison.Ordinal))
                        {
                            Interlocked.Increment(ref unknown);
                        }
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref unknown);
                    }
                }
            })).ToList();

            await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref done) >= Operations / 3), TimeSpan.FromSeconds(120), "a third of the transactions");
            silos[0].Process.Kill();
            output.WriteLine($"killed {silos[0].Name} after {Volatile.Read(ref done)} transactions");

            await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref done) >= Operations * 2 / 3), TimeSpan.FromSeconds(180), "two thirds of the transactions");
            await first.DisposeAsync();
            var (second, resumed) = await WatchReader.OpenRetryingAsync(http, $"/v1/tables/{table}/watch?prefix=w/", first.LastId, TimeSpan.FromSeconds(60));
            Assert.Equal(200, resumed);
            await using var _ = second;
            await Task.WhenAll(workers);

            // The final state, once the transactions caught by the kill have settled.
            var final = new Dictionary<string, (string Value, long Version)>();
            await Eventually.WaitAsync(async () =>
            {
                var scan = await http.GetAsync($"/v1/tables/{table}/keys?prefix=w/&limit=100");
                if (!scan.IsSuccessStatusCode)
                {
                    return false;
                }

                final = (await JsonDocument.ParseAsync(await scan.Content.ReadAsStreamAsync())).RootElement.GetProperty("items").EnumerateArray()
                    .ToDictionary(i => i.GetProperty("key").GetString()!, i => (i.GetProperty("value").GetRawText(), i.GetProperty("version").GetInt64()));
                return true;
            }, TimeSpan.FromSeconds(60), "a scan of the final state");
            var events = first.Changes.Concat(second.Changes).ToList();
            await Eventually.WaitAsync(() =>
            {
                events = [.. first.Changes.Concat(second.Changes)];
                return Task.FromResult(final.All(k => events.Any(e => e.Key == k.Key && e.Version == k.Value.Version)));
            }, TimeSpan.FromSeconds(60), "every key's final version to show as an event");
            output.WriteLine($"{committed} committed, {unknown} unknown outcomes, {events.Count} events ({first.Changes.Count} before the resume)");

            foreach (var (key, (value, version)) in final)
            {
                var history = events.Where(e => e.Key == key).ToList();
                Assert.Equal(Enumerable.Range(1, (int)version).Select(v => (long)v), history.Select(e => e.Version));
                Assert.All(history, e => Assert.Equal(e.Version.ToString(), e.Data.GetProperty("value").GetRawText()));
                Assert.All(history, e => Assert.Equal("put", e.Type));
                Assert.Equal(version.ToString(), value);
            }

            Assert.Equal(final.Values.Sum(v => v.Version), events.Count);
            Assert.InRange(events.Count, committed, committed + unknown);
            TxnWatchTests.AssertRevisionsIncreasePerShard(first.Changes);
            TxnWatchTests.AssertRevisionsIncreasePerShard(second.Changes);
        }
        catch
        {
            foreach (var silo in silos)
            {
                output.WriteLine($"--- {silo.Name}\n{silo.Process.Tail()}");
            }

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
}
