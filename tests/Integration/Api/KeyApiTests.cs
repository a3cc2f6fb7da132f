using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansCompute.Data;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Api;

/// <summary>SPEC §4.1, keys: one test per rule, through the REST API against two silos on PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class KeyApiTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Versions_start_at_one_and_grow_by_one_with_201_then_200()
    {
        var table = await NewTableAsync();

        var first = await PutAsync(table, "k", "{\"n\":1}");
        var second = await PutAsync(table, "k", "{\"n\":2}");
        var third = await PutAsync(table, "k", "{\"n\":3}");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(["\"1\"", "\"2\"", "\"3\""], new[] { first, second, third }.Select(r => r.Headers.ETag!.Tag));
    }

    [Fact]
    public async Task Get_returns_the_value_exactly_as_written_with_its_etag()
    {
        var table = await NewTableAsync();
        const string value = "{ \"b\" : [1, 2.50, \"é\\u00e9\"],\n  \"a\": null }";
        await PutAsync(table, "doc", value);

        var response = await Http.GetAsync($"/v1/tables/{table}/keys/doc");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Encoding.UTF8.GetBytes(value), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("\"1\"", response.Headers.ETag!.Tag);
    }

    [Theory]
    [InlineData("42")]
    [InlineData("\"text\"")]
    [InlineData("null")]
    [InlineData("[1,2,3]")]
    [InlineData("true")]
    public async Task Any_json_value_can_be_stored(string value)
    {
        var table = await NewTableAsync();

        Assert.Equal(HttpStatusCode.Created, (await PutAsync(table, "v", value)).StatusCode);
        Assert.Equal(value, await Http.GetStringAsync($"/v1/tables/{table}/keys/v"));
    }

    [Fact]
    public async Task Absent_keys_are_404_and_delete_is_204_then_404()
    {
        var table = await NewTableAsync();
        await PutAsync(table, "gone", "1");

        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/never"), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{table}/keys/gone")).StatusCode);
        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/gone"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.DeleteAsync($"/v1/tables/{table}/keys/gone"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task If_match_makes_writes_and_deletes_conditional_and_a_mismatch_changes_nothing()
    {
        var table = await NewTableAsync();
        await PutAsync(table, "c", "1");
        await PutAsync(table, "c", "2");

        var stalePut = await PutAsync(table, "c", "99", ifMatch: "\"1\"");
        var staleDelete = await SendAsync(HttpMethod.Delete, $"/v1/tables/{table}/keys/c", ifMatch: "\"1\"");
        var goodPut = await PutAsync(table, "c", "3", ifMatch: "\"2\"");

        var problem = await AssertProblemAsync(stalePut, HttpStatusCode.PreconditionFailed);
        Assert.Equal(2, problem.GetProperty("currentVersion").GetInt64());
        await AssertProblemAsync(staleDelete, HttpStatusCode.PreconditionFailed);
        Assert.Equal(HttpStatusCode.OK, goodPut.StatusCode);
        Assert.Equal("3", await Http.GetStringAsync($"/v1/tables/{table}/keys/c"));
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Delete, $"/v1/tables/{table}/keys/c", ifMatch: "\"3\"")).StatusCode);
    }

    [Fact]
    public async Task If_none_match_star_makes_a_put_create_only()
    {
        var table = await NewTableAsync();

        var created = await PutAsync(table, "once", "1", ifNoneMatch: "*");
        var again = await PutAsync(table, "once", "2", ifNoneMatch: "*");

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        await AssertProblemAsync(again, HttpStatusCode.PreconditionFailed);
        Assert.Equal("1", await Http.GetStringAsync($"/v1/tables/{table}/keys/once"));
    }

    [Theory]
    [InlineData("If-Match", "W/\"1\"")]
    [InlineData("If-Match", "one")]
    [InlineData("If-None-Match", "\"1\"")]
    public async Task Unsupported_conditions_are_400_not_ignored(string header, string value)
    {
        var table = await NewTableAsync();
        var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/tables/{table}/keys/x") { Content = Json("1") };
        request.Headers.TryAddWithoutValidation(header, value);

        await AssertProblemAsync(await Http.SendAsync(request), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/x"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Keys_of_1024_bytes_are_accepted_and_longer_ones_are_400()
    {
        var table = await NewTableAsync();
        var longest = new string('é', 512); // 1024 UTF-8 bytes
        var tooLong = longest + "x";

        Assert.Equal(HttpStatusCode.Created, (await PutAsync(table, longest, "1")).StatusCode);
        var problem = await AssertProblemAsync(await PutAsync(table, tooLong, "1"), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("key", out _));
    }

    [Fact]
    public async Task Keys_may_hold_slashes_spaces_and_any_unicode()
    {
        var table = await NewTableAsync();
        foreach (var key in new[] { "a/b/c", "with space", "emoji-😀", "ünï" })
        {
            Assert.Equal(HttpStatusCode.Created, (await PutAsync(table, key, "1")).StatusCode);
            Assert.Equal("1", await Http.GetStringAsync($"/v1/tables/{table}/keys/{Uri.EscapeDataString(key).Replace("%2F", "/")}"));
        }
    }

    [Fact]
    public async Task Values_over_one_mebibyte_are_413_and_change_nothing()
    {
        var table = await NewTableAsync();
        var big = "\"" + new string('x', 1024 * 1024) + "\"";

        await AssertProblemAsync(await PutAsync(table, "big", big), HttpStatusCode.RequestEntityTooLarge);
        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/big"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"a\":")]
    [InlineData("not json")]
    public async Task Bodies_that_are_not_json_are_400(string body)
    {
        var table = await NewTableAsync();

        await AssertProblemAsync(await PutAsync(table, "bad", body), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/bad"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("soon")]
    public async Task Bad_ttls_are_400(string ttl)
    {
        var table = await NewTableAsync();

        await AssertProblemAsync(await Http.PutAsync($"/v1/tables/{table}/keys/t?ttlSeconds={ttl}", Json("1")), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Keys_of_a_missing_table_are_404_and_bad_table_names_400()
    {
        var missing = Names.Table();

        var put = await PutAsync(missing, "k", "1");
        var get = await Http.GetAsync($"/v1/tables/{missing}/keys/k");
        var badName = await PutAsync("Bad_Name", "k", "1");

        Assert.Equal("Table not found", (await AssertProblemAsync(put, HttpStatusCode.NotFound)).GetProperty("title").GetString());
        await AssertProblemAsync(get, HttpStatusCode.NotFound);
        await AssertProblemAsync(badName, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Expired_keys_vanish_from_get_and_scan_and_are_swept_from_storage()
    {
        var table = await NewTableAsync(shards: 2);
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}/keys/short?ttlSeconds=60", Json("1"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}/keys/long?ttlSeconds=3600", Json("2"))).StatusCode);
        await PutAsync(table, "forever", "3");
        Assert.Equal("1", await Http.GetStringAsync($"/v1/tables/{table}/keys/short"));

        fixture.Cluster.Clock.Advance(TimeSpan.FromSeconds(61));

        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/short"), HttpStatusCode.NotFound);
        Assert.Equal(["forever", "long"], await ScanKeysAsync(table, ""));
        // A put on an expired key creates it afresh.
        var recreated = await PutAsync(table, "short", "4", ifNoneMatch: "*");
        Assert.Equal(HttpStatusCode.Created, recreated.StatusCode);
        Assert.Equal("\"1\"", recreated.Headers.ETag!.Tag);

        fixture.Cluster.Clock.Advance(TimeSpan.FromHours(2));
        var info = await TableInfoAsync(table);
        var swept = 0;
        foreach (var shard in Enumerable.Range(0, info.Shards))
        {
            swept += await fixture.Cluster.Silos[0].Grains.GetGrain<IShardGrain>(ShardMap.ShardKey("default", info, shard)).SweepExpiredAsync();
        }

        Assert.Equal(1, swept); // "long"; "short" was written again without a TTL
        Assert.Equal(2, await RowCountAsync(info.Id));
    }

    [Fact]
    public async Task Scans_list_every_shard_in_code_point_order_with_prefix_and_cursor()
    {
        var table = await NewTableAsync(shards: 8);
        var keys = new[] { "b", "a", "ab", "a/b", "A", "aa", "a😀", "a\uFFFD", "ba", "c", "a-1" };
        foreach (var key in keys)
        {
            await PutAsync(table, key, $"\"{key}\"");
        }

        var all = await ScanKeysAsync(table, "", pageSize: 3);
        var withA = await ScanKeysAsync(table, "a", pageSize: 2);

        var expected = keys.Order(KeyOrder.Instance).ToList();
        Assert.Equal(expected, all);
        Assert.Equal(expected.Where(k => k.StartsWith('a')), withA);
        Assert.Equal("a\uFFFD", expected[^5]); // U+FFFD sorts before U+1F600 in code point order
    }

    [Fact]
    public async Task Scan_items_carry_value_and_version()
    {
        var table = await NewTableAsync();
        await PutAsync(table, "x", "{\"v\":1}");
        await PutAsync(table, "x", "{\"v\":2}");

        var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys");

        var item = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.Equal(("x", 2, 2L), (item.GetProperty("key").GetString(), item.GetProperty("value").GetProperty("v").GetInt32(), item.GetProperty("version").GetInt64()));
        Assert.Equal(JsonValueKind.Null, page.GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task Batches_answer_per_operation_and_are_not_atomic()
    {
        var table = await NewTableAsync();
        await PutAsync(table, "exists", "1");

        var response = await Http.PostAsync($"/v1/tables/{table}/batch", Json("""
            {"ops": [
              {"op": "put", "key": "new", "value": {"a": 1}},
              {"op": "put", "key": "exists", "value": 2, "ifVersion": 7},
              {"op": "get", "key": "new"},
              {"op": "delete", "key": "exists"},
              {"op": "get", "key": "missing"}
            ]}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([201, 412, 200, 204, 404], results.Select(r => r.GetProperty("status").GetInt32()));
        Assert.Equal(1, results[2].GetProperty("value").GetProperty("a").GetInt32());
        Assert.Equal("{\"a\":1}", await Http.GetStringAsync($"/v1/tables/{table}/keys/new"));
        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/exists"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("{\"ops\": []}", "ops")]
    [InlineData("{\"ops\": [{\"op\": \"upsert\", \"key\": \"k\", \"value\": 1}]}", "ops[0].op")]
    [InlineData("{\"ops\": [{\"op\": \"put\", \"key\": \"k\"}]}", "ops[0].value")]
    [InlineData("{\"ops\": [{\"op\": \"get\", \"key\": \"\"}]}", "ops[0].key")]
    public async Task Bad_batches_are_400_naming_the_operation_and_change_nothing(string body, string field)
    {
        var table = await NewTableAsync();
        var withGoodOp = body.Replace("[{", "[{\"op\": \"put\", \"key\": \"good\", \"value\": 1}, {").Replace("ops[0]", "ops[1]");

        var problem = await AssertProblemAsync(await Http.PostAsync($"/v1/tables/{table}/batch", Json(body)), HttpStatusCode.BadRequest);
        await Http.PostAsync($"/v1/tables/{table}/batch", Json(withGoodOp));

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/good"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Batches_over_the_op_limit_are_400()
    {
        var table = await NewTableAsync();
        var ops = string.Join(",", Enumerable.Range(0, 1001).Select(i => $"{{\"op\":\"put\",\"key\":\"k{i}\",\"value\":1}}"));

        var problem = await AssertProblemAsync(await Http.PostAsync($"/v1/tables/{table}/batch", Json($"{{\"ops\":[{ops}]}}")), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("ops", out _));
        Assert.Equal(0, await RowCountAsync((await TableInfoAsync(table)).Id));
    }

    [Fact]
    public async Task Shards_are_spread_over_every_silo_and_count_their_keys()
    {
        var table = await NewTableAsync(shards: 16);
        for (var i = 0; i < 50; i++)
        {
            await PutAsync(table, $"key{i}", "1");
        }

        var shards = (await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/shards")).GetProperty("items").EnumerateArray().ToList();
        var described = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}");

        Assert.Equal(Enumerable.Range(0, 16), shards.Select(s => s.GetProperty("shard").GetInt32()));
        Assert.Equal(fixture.Cluster.Silos.Count, shards.Select(s => s.GetProperty("silo").GetString()).Distinct().Count());
        Assert.Equal(50, shards.Sum(s => s.GetProperty("keys").GetInt64()));
        Assert.Equal(50, described.GetProperty("keyCount").GetInt64());
    }

    [Fact]
    public async Task An_acknowledged_write_is_a_row_in_postgres_one_per_key()
    {
        var table = await NewTableAsync(shards: 4);
        for (var i = 0; i < 20; i++)
        {
            await PutAsync(table, $"k{i % 5}", $"{i}");
        }

        var info = await TableInfoAsync(table);
        Assert.Equal(5, await RowCountAsync(info.Id));
        Assert.Equal(4L, await TestDatabase.ScalarAsync<long>(fixture.Cluster.ConnectionString,
            "SELECT version FROM oc_kv WHERE table_id = @table AND key = 'k0'", ("table", info.Id)));
    }

    [Fact]
    public async Task Concurrent_conditional_increments_lose_no_update()
    {
        var table = await NewTableAsync();
        await PutAsync(table, "counter", "0");
        var acknowledged = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var attempt = 0; attempt < 25; attempt++)
            {
                var current = await Http.GetAsync($"/v1/tables/{table}/keys/counter");
                var value = int.Parse(await current.Content.ReadAsStringAsync());
                var write = await PutAsync(table, "counter", (value + 1).ToString(), ifMatch: current.Headers.ETag!.Tag);
                if (write.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref acknowledged);
                }
                else
                {
                    Assert.Equal(HttpStatusCode.PreconditionFailed, write.StatusCode);
                }
            }
        }));

        var final = await Http.GetAsync($"/v1/tables/{table}/keys/counter");
        Assert.True(acknowledged > 0);
        Assert.Equal(acknowledged, int.Parse(await final.Content.ReadAsStringAsync()));
        Assert.Equal($"\"{acknowledged + 1}\"", final.Headers.ETag!.Tag);
    }

    [Fact]
    public async Task Dropping_a_table_removes_its_keys_and_a_new_table_of_that_name_starts_empty()
    {
        var table = await NewTableAsync(shards: 4);
        for (var i = 0; i < 30; i++)
        {
            await PutAsync(table, $"k{i}", "1");
        }

        var old = await TableInfoAsync(table);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{table}")).StatusCode);
        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{table}/keys/k1"), HttpStatusCode.NotFound);
        await Http.PutAsync($"/v1/tables/{table}", Json("{\"shards\": 4}"));

        Assert.Empty(await ScanKeysAsync(table, ""));
        await Eventually.WaitAsync(async () => await RowCountAsync(old.Id) == 0, TimeSpan.FromSeconds(60), "the dropped table's rows to be purged");
    }

    [Fact]
    public async Task Dropping_a_table_of_a_hundred_thousand_keys_answers_at_once_and_purges_in_the_background()
    {
        var table = await NewTableAsync(shards: 4);
        var info = await TableInfoAsync(table);
        // Rows written straight into the store: this test is about the drop, not about loading.
        await TestDatabase.ExecuteAsync(fixture.Cluster.ConnectionString, """
            INSERT INTO oc_kv (table_id, shard, key, value, version)
            SELECT @table, i % 4, 'k' || i, convert_to('{"n":' || i || '}', 'UTF8'), 1 FROM generate_series(1, 100000) AS i
            """, ("table", info.Id));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var dropped = await Http.DeleteAsync($"/v1/tables/{table}");
        var answeredIn = clock.Elapsed;

        Assert.Equal(HttpStatusCode.NoContent, dropped.StatusCode);
        Assert.True(answeredIn < TimeSpan.FromSeconds(5), $"drop took {answeredIn}");
        await Eventually.WaitAsync(async () => await RowCountAsync(info.Id) == 0, TimeSpan.FromSeconds(90), "100,000 rows purged");
    }

    [Fact]
    public async Task A_table_dropped_and_created_again_through_another_api_instance_is_used_at_once()
    {
        var table = await NewTableAsync(shards: 2);
        await PutAsync(table, "k", "\"old\"");
        await using var otherApi = new ApiFactory(fixture.Cluster.Settings);
        var other = otherApi.CreateClient();
        await Eventually.WaitAsync(async () => (await other.GetAsync($"/v1/tables/{table}/keys/k")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(30), "the other Api instance to read (and cache) the table");

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{table}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("{\"shards\": 3}"))).StatusCode);

        // The other instance may still cache the dropped incarnation: its writes go to the new one all the same.
        var put = await other.PutAsync($"/v1/tables/{table}/keys/k", Json("\"new\""));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal("\"new\"", await Http.GetStringAsync($"/v1/tables/{table}/keys/k"));
        Assert.Equal("\"new\"", await other.GetStringAsync($"/v1/tables/{table}/keys/k"));

        // The same for scans and batches.
        await RecreateAsync(table);
        var scan = await other.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys");
        Assert.Equal(0, scan.GetProperty("items").GetArrayLength());
        await RecreateAsync(table);
        var batch = await other.PostAsync($"/v1/tables/{table}/batch", Json("{\"ops\":[{\"op\":\"put\",\"key\":\"b\",\"value\":1}]}"));
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        Assert.Equal("1", await Http.GetStringAsync($"/v1/tables/{table}/keys/b"));

        async Task RecreateAsync(string name)
        {
            Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{name}")).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{name}", Json("{\"shards\": 3}"))).StatusCode);
        }
    }

    private async Task<string> NewTableAsync(int shards = 16)
    {
        var table = Names.Table("kv");
        var created = await Http.PutAsync($"/v1/tables/{table}", Json($"{{\"shards\": {shards}}}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return table;
    }

    private Task<HttpResponseMessage> PutAsync(string table, string key, string value, string? ifMatch = null, string? ifNoneMatch = null) =>
        SendAsync(HttpMethod.Put, $"/v1/tables/{table}/keys/{Uri.EscapeDataString(key).Replace("%2F", "/")}", value, ifMatch, ifNoneMatch);

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, string? ifMatch = null, string? ifNoneMatch = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        return Http.SendAsync(request);
    }

    private async Task<List<string>> ScanKeysAsync(string table, string prefix, int pageSize = 100)
    {
        var keys = new List<string>();
        string? cursor = null;
        do
        {
            var url = $"/v1/tables/{table}/keys?prefix={Uri.EscapeDataString(prefix)}&limit={pageSize}" + (cursor is null ? "" : $"&after={cursor}");
            var page = await Http.GetFromJsonAsync<JsonElement>(url);
            keys.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("key").GetString()!));
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);

        return keys;
    }

    private async Task<TableInfo> TableInfoAsync(string table) =>
        (await fixture.Cluster.Silos[0].Grains.GetGrain<ITableGrain>($"default/{table}").DescribeAsync())!;

    private Task<long> RowCountAsync(Guid tableId) =>
        TestDatabase.ScalarAsync<long>(fixture.Cluster.ConnectionString, "SELECT count(*) FROM oc_kv WHERE table_id = @table", ("table", tableId));
}
