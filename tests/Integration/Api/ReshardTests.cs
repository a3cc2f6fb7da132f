using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Api;

/// <summary>
/// SPEC §4.1, online resharding (<c>PATCH /v1/tables/{table}</c>): shards split and merge while
/// writes and scans go on, on two silos and PostgreSQL; nothing acknowledged is lost, no key shows
/// twice, and bad requests change nothing.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public class ReshardTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Splitting_8_to_32_and_merging_back_keeps_every_acknowledged_write_under_concurrent_writes_and_scans()
    {
        var table = Names.Table("reshard");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("""{"shards": 8}"""))).StatusCode);
        var acknowledged = new ConcurrentDictionary<string, string>();
        for (var i = 0; i < 400; i++)
        {
            var put = await Http.PutAsync($"/v1/tables/{table}/keys/k{i:D4}", Json($"{i}"));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            acknowledged[$"k{i:D4}"] = put.Headers.ETag!.Tag;
        }

        foreach (var shards in new[] { 32, 8 })
        {
            using var stop = new CancellationTokenSource();
            var failures = new ConcurrentQueue<string>();
            var writers = Enumerable.Range(0, 4).Select(w => WriteLoopAsync(table, w, acknowledged, failures, stop.Token)).ToList();
            var scanner = ScanLoopAsync(table, failures, stop.Token);

            var patch = await Http.PatchAsync($"/v1/tables/{table}", Json($$"""{"shards": {{shards}}}"""));
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
            var resharding = (await patch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("resharding");
            Assert.Equal(shards, resharding.GetProperty("to").GetInt32());

            await Eventually.WaitAsync(async () =>
            {
                var described = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}");
                return !described.TryGetProperty("resharding", out _) && described.GetProperty("shards").GetInt32() == shards;
            }, TimeSpan.FromSeconds(60), $"the reshard to {shards} shards to finish");

            await stop.CancelAsync();
            await Task.WhenAll(writers.Append(scanner));
            Assert.Empty(failures);

            // Every acknowledged key at its acknowledged version, and a scan that lists each once.
            var scanned = await ScanAllAsync(table);
            Assert.Equal(scanned.Count, scanned.Select(i => i.Key).Distinct().Count());
            Assert.Equal(acknowledged.Keys.Order(StringComparer.Ordinal), scanned.Select(i => i.Key));
            foreach (var (key, version) in scanned)
            {
                Assert.Equal(acknowledged[key], $"\"{version}\"");
            }

            var described = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}");
            Assert.Equal(acknowledged.Count, described.GetProperty("keyCount").GetInt64());
            var listed = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/shards");
            Assert.Equal(shards, listed.GetProperty("items").GetArrayLength());
        }
    }

    [Fact]
    public async Task Bad_reshard_requests_are_4xx_and_change_nothing()
    {
        var table = Names.Table("reshard");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("""{"shards": 8}"""))).StatusCode);
        var transactional = Names.Table("reshard");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{transactional}", Json("""{"shards": 4, "transactional": true}"""))).StatusCode);

        await AssertFieldErrorAsync(await Http.PatchAsync($"/v1/tables/{table}", Json("""{"shards": 0}""")), "shards");
        await AssertFieldErrorAsync(await Http.PatchAsync($"/v1/tables/{table}", Json("""{"shards": 257}""")), "shards");
        await AssertFieldErrorAsync(await Http.PatchAsync($"/v1/tables/{table}", Json("""{"shards": 12}""")), "shards");
        await AssertFieldErrorAsync(await Http.PatchAsync($"/v1/tables/{table}", Json("""{}""")), "shards");
        await AssertFieldErrorAsync(await Http.PatchAsync($"/v1/tables/{transactional}", Json("""{"shards": 8}""")), "shards");
        await AssertProblemAsync(await Http.PatchAsync($"/v1/tables/{Names.Table("absent")}", Json("""{"shards": 8}""")), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await Http.PatchAsync($"/v1/tables/{table}", Json("""{"shards": 8}"""))).StatusCode);

        var described = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}");
        Assert.Equal(8, described.GetProperty("shards").GetInt32());
        Assert.False(described.TryGetProperty("resharding", out _));
        Assert.Equal(4, (await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{transactional}")).GetProperty("shards").GetInt32());
    }

    [Fact]
    public async Task A_reshard_while_one_runs_is_409()
    {
        var table = Names.Table("reshard");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("""{"shards": 64}"""))).StatusCode);
        // Keys in every shard, so the hand-over of 64 shards takes a while.
        var batch = string.Join(',', Enumerable.Range(0, 1000).Select(i => $$"""{"op":"put","key":"k{{i}}","value":{{i}}}"""));
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync($"/v1/tables/{table}/batch", Json($$"""{"ops":[{{batch}}]}"""))).StatusCode);

        Assert.Equal(HttpStatusCode.Accepted, (await Http.PatchAsync($"/v1/tables/{table}", Json("""{"shards": 128}"""))).StatusCode);
        var second = await Http.PatchAsync($"/v1/tables/{table}", Json("""{"shards": 32}"""));

        if (second.StatusCode != HttpStatusCode.Accepted)
        {
            await AssertProblemAsync(second, HttpStatusCode.Conflict);
        }
        else
        {
            // The first finished before the second arrived: then it started the second one, also fine.
            Assert.Equal(32, (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("resharding").GetProperty("to").GetInt32());
        }

        await Eventually.WaitAsync(async () => !(await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}")).TryGetProperty("resharding", out _),
            TimeSpan.FromSeconds(60), "the reshard to finish");
        Assert.Equal(1000, (await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}")).GetProperty("keyCount").GetInt64());
    }

    [Fact]
    public async Task Data_local_jobs_during_a_reshard_count_every_key_once()
    {
        var table = Names.Table("reshard");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("""{"shards": 8}"""))).StatusCode);
        foreach (var chunk in Enumerable.Range(0, 3000).Chunk(1000))
        {
            var ops = string.Join(',', chunk.Select(i => $$$"""{"op":"put","key":"k{{{i}}}","value":{"price":1}}"""));
            Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync($"/v1/tables/{table}/batch", Json($$"""{"ops":[{{ops}}]}"""))).StatusCode);
        }

        var spec = $$$"""{"kind": "aggregate", "input": {"table": "{{{table}}}", "field": "price"}}""";
        var jobs = new List<string> { await Http.SubmitAsync(spec) };
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PatchAsync($"/v1/tables/{table}", Json("""{"shards": 64}"""))).StatusCode);
        for (var i = 0; i < 4; i++)
        {
            jobs.Add(await Http.SubmitAsync(spec));
        }

        foreach (var id in jobs)
        {
            var job = await Http.WaitForEndAsync(id);
            Assert.Equal("succeeded", job.Status());
            Assert.Equal((3000L, 3000.0), (job.GetProperty("result").GetProperty("count").GetInt64(), job.GetProperty("result").GetProperty("sum").GetDouble()));
        }
    }

    // Conditional increments of its own keys: each acknowledged write's version is recorded.
    private async Task WriteLoopAsync(string table, int writer, ConcurrentDictionary<string, string> acknowledged, ConcurrentQueue<string> failures, CancellationToken stop)
    {
        var i = 0;
        while (!stop.IsCancellationRequested)
        {
            var key = $"w{writer}-{i++ % 50:D2}";
            using var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/tables/{table}/keys/{key}") { Content = Json($"{i}") };
            if (acknowledged.TryGetValue(key, out var etag))
            {
                put.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue(etag));
            }
            else
            {
                put.Headers.IfNoneMatch.Add(System.Net.Http.Headers.EntityTagHeaderValue.Any);
            }

            var response = await Http.SendAsync(put, CancellationToken.None);
            if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created)
            {
                acknowledged[key] = response.Headers.ETag!.Tag;
            }
            else
            {
                // Only this writer writes its keys: a failed precondition would mean a lost or doubled write.
                failures.Enqueue($"put {key}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
            }
        }
    }

    private async Task ScanLoopAsync(string table, ConcurrentQueue<string> failures, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var keys = (await ScanAllAsync(table)).Select(i => i.Key).ToList();
            if (keys.Count != keys.Distinct().Count() || !keys.SequenceEqual(keys.Order(StringComparer.Ordinal)))
            {
                failures.Enqueue($"a scan listed a key twice or out of order ({keys.Count} keys)");
            }

            if (keys.Count(k => k.StartsWith("k", StringComparison.Ordinal)) != 400)
            {
                failures.Enqueue($"a scan missed keys: {keys.Count(k => k.StartsWith("k", StringComparison.Ordinal))} of 400");
            }
        }
    }

    private async Task<List<(string Key, long Version)>> ScanAllAsync(string table)
    {
        var items = new List<(string, long)>();
        string? after = null;
        do
        {
            var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys?limit=100{(after is null ? "" : $"&after={Uri.EscapeDataString(after)}")}");
            items.AddRange(page.GetProperty("items").EnumerateArray().Select(i => (i.GetProperty("key").GetString()!, i.GetProperty("version").GetInt64())));
            after = page.GetProperty("next").GetString();
        }
        while (after is not null);
        return items;
    }

    private static async Task AssertFieldErrorAsync(HttpResponseMessage response, string field)
    {
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}': {problem}");
    }
}
