using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Coordination;

/// <summary>SPEC §4.4, fenced writes on sharded tables: the Fencing-Token header and the batch op's fence, on two silos and PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class FencedWriteTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_lower_token_is_409_fenced_and_changes_nothing_while_equal_and_higher_tokens_write()
    {
        var table = await NewTableAsync(Http);
        var name = CoordClient.LockName("jobs/leader");
        var (oldHolder, newHolder) = await TwoTokensAsync(Http, name);

        Assert.Equal(HttpStatusCode.Created, (await PutAsync(Http, table, "k", "\"new\"", $"{name}={newHolder}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(Http, table, "k", "\"new again\"", $"{name}={newHolder}")).StatusCode);

        var stalePut = await AssertProblemAsync(await PutAsync(Http, table, "k", "\"old\"", $"{name}={oldHolder}"), HttpStatusCode.Conflict);
        Assert.Equal("urn:orleans-compute:problem:fenced", stalePut.GetProperty("type").GetString());
        Assert.Equal(newHolder, stalePut.GetProperty("highestToken").GetInt64());
        await AssertProblemAsync(await DeleteAsync(Http, table, "k", $"{name}={oldHolder}"), HttpStatusCode.Conflict);
        Assert.Equal("\"new again\"", await Http.GetStringAsync($"/v1/tables/{table}/keys/k"));
        Assert.Equal("\"2\"", (await Http.GetAsync($"/v1/tables/{table}/keys/k")).Headers.ETag!.Tag);

        // A fenced delete keeps the fence: the old holder cannot bring the key back either.
        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync(Http, table, "k", $"{name}={newHolder}")).StatusCode);
        await AssertProblemAsync(await PutAsync(Http, table, "k", "\"old\"", $"{name}={oldHolder}"), HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode);

        // Other keys, and unfenced writes, are not held to the lock's tokens.
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(Http, table, "other", "1", $"{name}={oldHolder}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(Http, table, "k", "\"unfenced\"", fence: null)).StatusCode);
    }

    [Fact]
    public async Task A_token_the_lock_never_issued_is_refused_and_writes_nothing()
    {
        var table = await NewTableAsync(Http);
        var name = CoordClient.LockName();
        var (lease, _) = await Http.GrantAsync(60);
        var token = await Http.TokenAsync(name, lease);

        var ahead = await AssertProblemAsync(await PutAsync(Http, table, "k", "1", $"{name}={token + 1}"), HttpStatusCode.Conflict);
        Assert.Equal("urn:orleans-compute:problem:fenced", ahead.GetProperty("type").GetString());
        Assert.Contains("never issued", ahead.GetProperty("detail").GetString());
        await AssertProblemAsync(await PutAsync(Http, table, "k", "1", $"{CoordClient.LockName("never")}=1"), HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode);

        // Once the lock issues it, the same token writes.
        Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, token)).StatusCode);
        Assert.Equal(token + 1, await Http.TokenAsync(name, lease));
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(Http, table, "k", "1", $"{name}={token + 1}")).StatusCode);
    }

    [Theory]
    [InlineData("no-equals-sign")]
    [InlineData("lock=")]
    [InlineData("=5")]
    [InlineData("lock=zero")]
    [InlineData("lock=0")]
    [InlineData("lock=-3")]
    [InlineData("bad name!=4")]
    public async Task A_malformed_fencing_token_is_400_naming_the_header_and_writes_nothing(string header)
    {
        var table = await NewTableAsync(Http);

        var put = await AssertProblemAsync(await PutAsync(Http, table, "k", "1", header), HttpStatusCode.BadRequest);
        Assert.True(put.GetProperty("errors").TryGetProperty("Fencing-Token", out _), put.GetRawText());
        var delete = await AssertProblemAsync(await DeleteAsync(Http, table, "k", header), HttpStatusCode.BadRequest);
        Assert.True(delete.GetProperty("errors").TryGetProperty("Fencing-Token", out _), delete.GetRawText());
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode);
    }

    [Fact]
    public async Task Each_batch_op_is_fenced_on_its_own()
    {
        var table = await NewTableAsync(Http);
        var name = CoordClient.LockName();
        var (oldHolder, newHolder) = await TwoTokensAsync(Http, name);
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(Http, table, "a", "\"new\"", $"{name}={newHolder}")).StatusCode);

        var response = await Http.PostAsync($"/v1/tables/{table}/batch", CoordClient.Json($$$"""
            {"ops": [
              {"op": "put", "key": "a", "value": "old", "fence": {"lock": "{{{name}}}", "token": {{{oldHolder}}}}},
              {"op": "put", "key": "b", "value": "old", "fence": {"lock": "{{{name}}}", "token": {{{oldHolder}}}}},
              {"op": "put", "key": "c", "value": "new", "fence": {"lock": "{{{name}}}", "token": {{{newHolder}}}}},
              {"op": "put", "key": "b", "value": "newer", "fence": {"lock": "{{{name}}}", "token": {{{newHolder}}}}},
              {"op": "delete", "key": "b", "fence": {"lock": "{{{name}}}", "token": {{{oldHolder}}}}},
              {"op": "put", "key": "d", "value": "ahead", "fence": {"lock": "{{{name}}}", "token": {{{newHolder + 1}}}}}
            ]}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var statuses = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray()
            .Select(r => r.GetProperty("status").GetInt32()).ToArray();
        Assert.Equal([409, 201, 201, 200, 409, 409], statuses);
        Assert.Equal("\"new\"", await Http.GetStringAsync($"/v1/tables/{table}/keys/a"));
        Assert.Equal("\"newer\"", await Http.GetStringAsync($"/v1/tables/{table}/keys/b"));
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/d")).StatusCode);
    }

    [Theory]
    [InlineData("""{"op": "put", "key": "k", "value": 1, "fence": {"lock": "l", "token": 0}}""")]
    [InlineData("""{"op": "put", "key": "k", "value": 1, "fence": {"token": 3}}""")]
    [InlineData("""{"op": "get", "key": "k", "fence": {"lock": "l", "token": 3}}""")]
    public async Task A_malformed_batch_fence_is_400_naming_the_op_and_runs_nothing(string op)
    {
        var table = await NewTableAsync(Http);

        var response = await Http.PostAsync($"/v1/tables/{table}/batch", CoordClient.Json($$"""{"ops": [{"op": "put", "key": "x", "value": 1}, {{op}}]}"""));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("ops[1].fence", out _), problem.GetRawText());
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/x")).StatusCode);
    }

    [Fact]
    public async Task A_lock_name_resolves_in_the_callers_tenant()
    {
        var mine = await Tenants.ClientAsync(fixture, """["coord", "data:read", "data:write"]""");
        var theirs = await Tenants.ClientAsync(fixture, """["coord", "data:read", "data:write"]""");
        var table = await NewTableAsync(mine);
        var name = CoordClient.LockName();
        // The other tenant's lock of the same name issued a token; in my tenant the lock never did.
        var (lease, _) = await theirs.GrantAsync(60);
        var token = await theirs.TokenAsync(name, lease);

        await AssertProblemAsync(await PutAsync(mine, table, "k", "1", $"{name}={token}"), HttpStatusCode.Conflict);

        // And my lock's tokens do not fence their keys: the same name and key in their tenant is theirs alone.
        var (myLease, _) = await mine.GrantAsync(60);
        var first = await mine.TokenAsync(name, myLease);
        Assert.Equal(HttpStatusCode.NoContent, (await mine.ReleaseAsync(name, first)).StatusCode);
        var second = await mine.TokenAsync(name, myLease);
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(mine, table, "k", "1", $"{name}={second}")).StatusCode);
        var theirTable = await NewTableAsync(theirs, table);
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(theirs, theirTable, "k", "2", $"{name}={token}")).StatusCode);
        Assert.Equal("1", await mine.GetStringAsync($"/v1/tables/{table}/keys/k"));
    }

    [Fact]
    public async Task A_stale_fence_in_a_transaction_is_409_fenced_and_applies_none_of_its_ops()
    {
        var table = Names.Table("fencetx");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", CoordClient.Json("{\"shards\": 2, \"transactional\": true}"))).StatusCode);
        var name = CoordClient.LockName();
        var (oldHolder, newHolder) = await TwoTokensAsync(Http, name);
        string Txn(long token, string value) => $$$"""
            {"success": [
              {"op": "put", "table": "{{{table}}}", "key": "other", "value": "{{{value}}}"},
              {"op": "put", "table": "{{{table}}}", "key": "k", "value": "{{{value}}}", "fence": {"lock": "{{{name}}}", "token": {{{token}}}}}
            ]}
            """;

        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync("/v1/txn", CoordClient.Json(Txn(newHolder, "new")))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync("/v1/txn", CoordClient.Json(Txn(newHolder, "same")))).StatusCode);

        var stale = await AssertProblemAsync(await Http.PostAsync("/v1/txn", CoordClient.Json(Txn(oldHolder, "old"))), HttpStatusCode.Conflict);
        Assert.Equal("urn:orleans-compute:problem:fenced", stale.GetProperty("type").GetString());
        Assert.Equal("success[1]", stale.GetProperty("op").GetString());
        var never = await AssertProblemAsync(await Http.PostAsync("/v1/txn", CoordClient.Json(Txn(newHolder + 1, "ahead"))), HttpStatusCode.Conflict);
        Assert.Contains("never issued", never.GetProperty("detail").GetString());
        // Neither refused transaction applied its unfenced op either.
        Assert.Equal("\"same\"", await Http.GetStringAsync($"/v1/tables/{table}/keys/other"));
        Assert.Equal("\"same\"", await Http.GetStringAsync($"/v1/tables/{table}/keys/k"));

        // A fenced delete keeps the token in the key's state: the old holder cannot recreate it.
        var delete = $$$"""{"success": [{"op": "delete", "table": "{{{table}}}", "key": "k", "fence": {"lock": "{{{name}}}", "token": {{{newHolder}}}}}]}""";
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync("/v1/txn", CoordClient.Json(delete))).StatusCode);
        await AssertProblemAsync(await Http.PostAsync("/v1/txn", CoordClient.Json(Txn(oldHolder, "old"))), HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode);
    }

    /// <summary>Two tokens of one lock, the first released before the second was granted, as a paused holder and its successor hold them.</summary>
    internal static async Task<(long Old, long New)> TwoTokensAsync(HttpClient http, string name)
    {
        var (lease, _) = await http.GrantAsync(60);
        var old = await http.TokenAsync(name, lease);
        Assert.Equal(HttpStatusCode.NoContent, (await http.ReleaseAsync(name, old)).StatusCode);
        return (old, await http.TokenAsync(name, lease));
    }

    internal static async Task<string> NewTableAsync(HttpClient http, string? name = null)
    {
        var table = name ?? Names.Table("fence");
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{table}", CoordClient.Json("{\"shards\": 4}"))).StatusCode);
        return table;
    }

    internal static Task<HttpResponseMessage> PutAsync(HttpClient http, string table, string key, string value, string? fence)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/tables/{table}/keys/{key}") { Content = CoordClient.Json(value) };
        if (fence is not null)
        {
            request.Headers.TryAddWithoutValidation("Fencing-Token", fence);
        }

        return http.SendAsync(request);
    }

    internal static Task<HttpResponseMessage> DeleteAsync(HttpClient http, string table, string key, string fence)
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, $"/v1/tables/{table}/keys/{key}");
        request.Headers.TryAddWithoutValidation("Fencing-Token", fence);
        return http.SendAsync(request);
    }
}

/// <summary>The highest token per key is durable: it outlives every activation of the shard.</summary>
public class FencedWriteRestartTests
{
    [Fact]
    public async Task The_highest_token_of_a_key_survives_a_restart_of_every_silo()
    {
        await using var cluster = await PostgresCluster.StartAsync("fence", silos: 2);
        var http = await cluster.Api.CreateReadyClientAsync();
        var table = await FencedWriteTests.NewTableAsync(http);
        var name = CoordClient.LockName();
        var (oldHolder, newHolder) = await FencedWriteTests.TwoTokensAsync(http, name);
        Assert.Equal(HttpStatusCode.Created, (await FencedWriteTests.PutAsync(http, table, "k", "\"new\"", $"{name}={newHolder}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await FencedWriteTests.PutAsync(http, table, "gone", "1", $"{name}={newHolder}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await FencedWriteTests.DeleteAsync(http, table, "gone", $"{name}={newHolder}")).StatusCode);
        Assert.Equal(2L, await TestDatabase.ScalarAsync<long>(cluster.ConnectionString,
            "SELECT count(*) FROM oc_kv_fence WHERE lock_name = @name AND token = @token", ("name", name), ("token", newHolder)));

        // New silo processes: every shard activation (and the lock's) starts from the store.
        await cluster.StopSilosAsync();
        await cluster.StartSilosAsync(2);
        await Eventually.WaitAsync(async () => (await http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), "the restarted cluster to serve the table");

        await AssertProblemAsync(await FencedWriteTests.PutAsync(http, table, "k", "\"old\"", $"{name}={oldHolder}"), HttpStatusCode.Conflict);
        await AssertProblemAsync(await FencedWriteTests.PutAsync(http, table, "gone", "\"old\"", $"{name}={oldHolder}"), HttpStatusCode.Conflict);
        Assert.Equal("\"new\"", await http.GetStringAsync($"/v1/tables/{table}/keys/k"));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/tables/{table}/keys/gone")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await FencedWriteTests.PutAsync(http, table, "k", "\"newer\"", $"{name}={newHolder}")).StatusCode);
    }

    [Fact]
    public async Task The_fences_move_with_the_keys_when_the_table_reshards()
    {
        await using var cluster = await PostgresCluster.StartAsync("fencereshard", silos: 2);
        var http = await cluster.Api.CreateReadyClientAsync();
        var table = await FencedWriteTests.NewTableAsync(http);
        var name = CoordClient.LockName();
        var (oldHolder, newHolder) = await FencedWriteTests.TwoTokensAsync(http, name);
        var keys = Enumerable.Range(0, 20).Select(i => $"k{i}").ToList();
        foreach (var key in keys)
        {
            Assert.Equal(HttpStatusCode.Created, (await FencedWriteTests.PutAsync(http, table, key, "\"new\"", $"{name}={newHolder}")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await FencedWriteTests.DeleteAsync(http, table, "k0", $"{name}={newHolder}")).StatusCode);
        var reshard = await http.PatchAsync($"/v1/tables/{table}", CoordClient.Json("{\"shards\": 8}"));
        Assert.True(reshard.IsSuccessStatusCode, await reshard.Content.ReadAsStringAsync());
        await Eventually.WaitAsync(async () =>
            {
                var info = await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}");
                return info.GetProperty("shards").GetInt32() == 8 && !info.TryGetProperty("resharding", out _);
            },
            TimeSpan.FromSeconds(60), "the reshard to finish");

        foreach (var key in keys)
        {
            await AssertProblemAsync(await FencedWriteTests.PutAsync(http, table, key, "\"old\"", $"{name}={oldHolder}"), HttpStatusCode.Conflict);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/tables/{table}/keys/k0")).StatusCode);
        Assert.Equal("\"new\"", await http.GetStringAsync($"/v1/tables/{table}/keys/k19"));
    }
}
