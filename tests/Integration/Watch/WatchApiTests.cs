using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansCompute.Data;
using OrleansCompute.Tests.Coordination;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Watch;

/// <summary>SPEC §4.4 "Watch" and the revisions of §4.1's answers, on the shared two-silo PostgreSQL cluster.</summary>
[Collection(SharedClusterCollection.Name)]
public class WatchApiTests(SharedClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Every_key_carries_the_revision_of_its_last_change_in_get_scan_and_batch_strictly_increasing_in_its_shard()
    {
        var table = await NewTableAsync(Http, shards: 1);
        var a1 = await PutAsync(Http, table, "a", "1");
        var b1 = await PutAsync(Http, table, "b", "2");
        var a2 = await PutAsync(Http, table, "a", "3");
        Assert.True(a1 < b1 && b1 < a2, $"{a1} {b1} {a2}");

        var get = await Http.GetAsync($"/v1/tables/{table}/keys/a");
        Assert.Equal(a2.ToString(), get.Headers.GetValues("Revision").Single());

        var scan = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys");
        var revisions = scan.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("key").GetString()!, i => i.GetProperty("revision").GetInt64());
        Assert.Equal(new Dictionary<string, long> { ["a"] = a2, ["b"] = b1 }, revisions);

        var batch = await Http.PostAsync($"/v1/tables/{table}/batch",
            CoordClient.Json("""{"ops": [{"op": "get", "key": "b"}, {"op": "put", "key": "c", "value": 4}, {"op": "delete", "key": "a"}]}"""));
        var results = (await batch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().Select(r => r.GetProperty("revision").GetInt64()).ToList();
        Assert.Equal(b1, results[0]);
        Assert.True(results[1] > a2 && results[2] > results[1], string.Join(",", results));
    }

    [Fact]
    public async Task A_stream_delivers_puts_and_deletes_in_order_and_a_resume_from_Last_Event_ID_repeats_nothing_and_misses_nothing()
    {
        var table = await NewTableAsync(Http, shards: 4);
        var (first, status) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?prefix=p/");
        Assert.Equal(200, status);
        await using (first)
        {
            await PutAsync(Http, table, "p/1", "{\"n\": 1}");
            await PutAsync(Http, table, "other", "0");
            await PutAsync(Http, table, "p/2", "[2]");
            await PutAsync(Http, table, "p/1", "\"one\"");
            Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{table}/keys/p/2")).StatusCode);
            await WaitForAsync(first, 4);

            var seen = first.Changes.Select(e => (e.Type, e.Key, e.Version, Value: e.Data.GetProperty("value").GetRawText())).ToList();
            Assert.Equal([("put", "p/1", 1L, "{\"n\": 1}"), ("put", "p/1", 2L, "\"one\"")], seen.Where(e => e.Key == "p/1"));
            Assert.Equal([("put", "p/2", 1L, "[2]"), ("delete", "p/2", 1L, "null")], seen.Where(e => e.Key == "p/2"));
            Assert.DoesNotContain(seen, e => e.Key == "other");
        }

        var resumeFrom = first.LastId!;
        await PutAsync(Http, table, "p/3", "3");
        await PutAsync(Http, table, "p/1", "4");
        var (resumed, again) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?prefix=p/", resumeFrom);
        Assert.Equal(200, again);
        await using (resumed)
        {
            await PutAsync(Http, table, "p/4", "5");
            await WaitForAsync(resumed, 3);
            Assert.Equal(["p/1", "p/3", "p/4"], resumed.Changes.Select(e => e.Key).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task FromRevision_replays_the_retained_history_of_every_shard()
    {
        var table = await NewTableAsync(Http, shards: 2);
        foreach (var i in Enumerable.Range(0, 10))
        {
            await PutAsync(Http, table, $"k{i}", $"{i}");
        }

        var (reader, status) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?fromRevision=1");
        Assert.Equal(200, status);
        await using (reader)
        {
            await WaitForAsync(reader, 10);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"k{i}").Order(), reader.Changes.Select(e => e.Key).Order());
        }
    }

    [Fact]
    public async Task TTL_expiry_and_a_lease_revoke_show_as_delete_events()
    {
        var table = await NewTableAsync(Http, shards: 1);
        var (lease, _) = await Http.GrantAsync(60);
        var (reader, _) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch");
        await using (reader)
        {
            Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}/keys/leased?lease={lease}", CoordClient.Json("1"))).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}/keys/brief?ttlSeconds=30", CoordClient.Json("2"))).StatusCode);
            await WaitForAsync(reader, 2);

            Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/leases/{lease}")).StatusCode);
            await Eventually.WaitAsync(() => Task.FromResult(reader.Changes.Any(e => e is { Type: "delete", Key: "leased" })), Deadline, "the lease's key to show as deleted");

            fixture.Cluster.Clock.Advance(TimeSpan.FromSeconds(31));
            var info = (await fixture.Cluster.Silos[0].Grains.GetGrain<ITableGrain>($"default/{table}").DescribeAsync())!;
            Assert.Equal(1, await fixture.Cluster.Silos[0].Grains.GetGrain<IShardGrain>(ShardMap.ShardKey("default", info, 0)).SweepExpiredAsync());
            await Eventually.WaitAsync(() => Task.FromResult(reader.Changes.Any(e => e is { Type: "delete", Key: "brief" })), Deadline, "the expired key to show as deleted");
            Assert.Equal(["put", "put", "delete", "delete"], reader.Changes.Select(e => e.Type));
        }
    }

    [Fact]
    public async Task An_idle_stream_gets_progress_events_with_a_cursor_to_resume_from()
    {
        await using var api = new ApiFactory(fixture.Cluster.Settings.Append(new("Watch:ProgressInterval", "00:00:00.300")).ToDictionary());
        var http = await api.CreateReadyClientAsync();
        var table = await NewTableAsync(http, shards: 3);
        var (reader, _) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch");
        await using (reader)
        {
            await Eventually.WaitAsync(() => Task.FromResult(reader.Events.Count(e => e.Type == "progress") >= 3), Deadline, "three progress events");
            var progress = reader.Events.First(e => e.Type == "progress");
            Assert.Equal(progress.Id, progress.Data.GetProperty("cursor").GetString());
            Assert.Equal(3, progress.Data.GetProperty("revisions").GetArrayLength());
        }

        // The idle stream's cursor resumes with what was written after it, and only that.
        await PutAsync(http, table, "after", "1");
        var (resumed, status) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch", reader.LastId);
        Assert.Equal(200, status);
        await using (resumed)
        {
            await WaitForAsync(resumed, 1);
            Assert.Equal("after", Assert.Single(resumed.Changes).Key);
        }
    }

    [Fact]
    public async Task Streams_beyond_the_tenants_limit_are_429_and_a_closed_stream_frees_its_slot()
    {
        await using var api = new ApiFactory(fixture.Cluster.Settings.Append(new("Watch:MaxStreamsPerTenant", "2")).ToDictionary());
        await api.CreateReadyClientAsync();
        // A tenant of its own: the limit counts the tenant's streams through every Api, other tests' too.
        var http = await Tenants.ClientAsync(fixture, """["data:read", "data:write"]""", api);
        var table = await NewTableAsync(http, shards: 1);
        var (one, _) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch");
        var (two, _) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch");
        await using (two)
        {
            await using (one)
            {
                var (three, status) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch");
                await using (three)
                {
                    Assert.Equal(429, status);
                    Assert.Equal("urn:orleans-compute:problem:too-many-requests", three.Problem.GetProperty("type").GetString());
                }

                // Another tenant's streams are not counted against this one.
                var other = await Tenants.ClientAsync(fixture, """["data:read", "data:write"]""", api);
                var theirs = await NewTableAsync(other, shards: 1);
                var (their, allowed) = await WatchReader.OpenAsync(other, $"/v1/tables/{theirs}/watch");
                await using (their)
                {
                    Assert.Equal(200, allowed);
                }
            }

            await Eventually.WaitAsync(async () =>
            {
                var (again, status) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch");
                await using (again)
                {
                    return status == 200;
                }
            }, Deadline, "a slot to free once a stream closed");
        }
    }

    [Fact]
    public async Task Another_tenants_table_is_404_and_watch_needs_data_read()
    {
        var table = await NewTableAsync(Http, shards: 1);
        var other = await Tenants.ClientAsync(fixture, """["data:read", "data:write"]""");
        await AssertProblemAsync(await other.GetAsync($"/v1/tables/{table}/watch"), HttpStatusCode.NotFound);

        var writer = await Tenants.ClientAsync(fixture, """["data:write"]""");
        Assert.Equal(HttpStatusCode.Forbidden, (await writer.GetAsync($"/v1/tables/{table}/watch")).StatusCode);

        // A cursor of this tenant's table does not open another tenant's table of the same name.
        await NewTableAsync(other, shards: 1, name: table);
        var (theirs, status) = await WatchReader.OpenAsync(other, $"/v1/tables/{table}/watch", CursorOf(await FirstCursorAsync(table)));
        await using (theirs)
        {
            Assert.Equal(400, status);
        }
    }

    [Theory]
    [InlineData("?fromRevision=x", null, "fromRevision")]
    [InlineData("?fromRevision=-1", null, "fromRevision")]
    [InlineData("?fromRevision=1.5", null, "fromRevision")]
    [InlineData("", "not-a-cursor", "Last-Event-ID")]
    [InlineData("", "0123456789abcdef0123456789abcdef.x", "Last-Event-ID")]
    [InlineData("", "0123456789abcdef0123456789abcdef.1.2", "Last-Event-ID")]
    [InlineData("?fromRevision=1", "0123456789abcdef0123456789abcdef.1", "fromRevision")]
    public async Task Bad_watch_input_is_400_naming_the_field(string query, string? lastEventId, string field)
    {
        var table = await NewTableAsync(Http, shards: 1);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/tables/{table}/watch{query}");
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        var problem = await AssertProblemAsync(await Http.SendAsync(request), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task A_prefix_longer_than_a_key_is_400()
    {
        var table = await NewTableAsync(Http, shards: 1);
        var problem = await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/watch?prefix={new string('p', 1025)}"), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("prefix", out _));
    }

    [Fact]
    public async Task A_stream_follows_a_reshard_with_every_change_once_in_per_key_order()
    {
        var table = await NewTableAsync(Http, shards: 2);
        var (reader, _) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch");
        var written = new List<(string Key, long Version)>();
        await using (reader)
        {
            for (var i = 0; i < 40; i++)
            {
                written.Add(($"k{i % 8}", await VersionOfPutAsync(Http, table, $"k{i % 8}", $"{i}")));
            }

            Assert.Equal(HttpStatusCode.Accepted, (await Http.PatchAsync($"/v1/tables/{table}", CoordClient.Json("""{"shards": 4}"""))).StatusCode);
            for (var i = 40; i < 80; i++)
            {
                written.Add(($"k{i % 8}", await VersionOfPutAsync(Http, table, $"k{i % 8}", $"{i}")));
            }

            await Eventually.WaitAsync(async () => !(await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}")).TryGetProperty("resharding", out var r) || r.ValueKind == JsonValueKind.Null,
                TimeSpan.FromSeconds(60), "the reshard to finish");
            for (var i = 80; i < 100; i++)
            {
                written.Add(($"k{i % 8}", await VersionOfPutAsync(Http, table, $"k{i % 8}", $"{i}")));
            }

            await WaitForAsync(reader, written.Count, TimeSpan.FromSeconds(60));
            Assert.Equal(written.Count, reader.Changes.Count);
            foreach (var key in written.Select(w => w.Key).Distinct())
            {
                Assert.Equal(written.Where(w => w.Key == key).Select(w => w.Version), reader.Changes.Where(e => e.Key == key).Select(e => e.Version));
            }
        }
    }

    private async Task<WatchCursorText> FirstCursorAsync(string table)
    {
        await using var api = new ApiFactory(fixture.Cluster.Settings.Append(new("Watch:ProgressInterval", "00:00:00.200")).ToDictionary());
        var http = await api.CreateReadyClientAsync();
        var (reader, _) = await WatchReader.OpenAsync(http, $"/v1/tables/{table}/watch");
        await using (reader)
        {
            await Eventually.WaitAsync(() => Task.FromResult(reader.LastId is not null), Deadline, "a progress event");
            return new WatchCursorText(reader.LastId!);
        }
    }

    private static string CursorOf(WatchCursorText cursor) => cursor.Text;

    private sealed record WatchCursorText(string Text);

    internal static async Task WaitForAsync(WatchReader reader, int changes, TimeSpan? deadline = null)
    {
        try
        {
            await Eventually.WaitAsync(() => Task.FromResult(reader.Changes.Count >= changes), deadline ?? Deadline, $"{changes} change events");
        }
        catch (TimeoutException timeout)
        {
            // What a failure needs to be read: whether the stream still ran, its notices, and which changes came.
            var received = reader.Changes.GroupBy(e => e.Key).Select(g => $"{g.Key}: {string.Join(",", g.Select(e => e.Version))}");
            var notices = reader.Events.Where(e => !e.IsChange).GroupBy(e => e.Type).Select(g => $"{g.Key} ×{g.Count()}");
            throw new TimeoutException($"{timeout.Message} Have {reader.Changes.Count}; stream ended: {reader.Ended}; " +
                $"notices: {string.Join(", ", notices)}; last id {reader.LastId}; versions by key: {string.Join("; ", received)}", timeout);
        }
    }

    internal static async Task<string> NewTableAsync(HttpClient http, int shards, string? name = null)
    {
        name ??= Names.Table("w");
        var response = await http.PutAsync($"/v1/tables/{name}", CoordClient.Json($$"""{"shards": {{shards}}}"""));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return name;
    }

    // Puts and answers the write's revision.
    internal static async Task<long> PutAsync(HttpClient http, string table, string key, string json)
    {
        var response = await http.PutAsync($"/v1/tables/{table}/keys/{key}", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64();
    }

    internal static async Task<long> VersionOfPutAsync(HttpClient http, string table, string key, string json)
    {
        var response = await http.PutAsync($"/v1/tables/{table}/keys/{key}", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt64();
    }
}
