using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Coordination;

/// <summary>SPEC §4.4, keys attached to a lease with <c>PUT .../keys/{key}?lease=</c>, on two silos and PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class LeasedKeyTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_revoke_deletes_the_attached_keys_and_only_those()
    {
        var table = await FencedWriteTests.NewTableAsync(Http);
        var (lease, _) = await Http.GrantAsync(60);
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(table, "a", lease)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(table, "dir/b", lease)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PutAsync(table, "free", lease: null)).StatusCode);

        var view = await Http.GetFromJsonAsync<JsonElement>($"/v1/leases/{lease}");
        var keys = view.GetProperty("keys").EnumerateArray().Select(k => (k.GetProperty("table").GetString(), k.GetProperty("key").GetString())).ToHashSet();
        Assert.Equal([(table, "a"), (table, "dir/b")], keys);

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/leases/{lease}")).StatusCode);
        await Eventually.WaitAsync(async () => (await Http.GetAsync($"/v1/tables/{table}/keys/a")).StatusCode == HttpStatusCode.NotFound
                && (await Http.GetAsync($"/v1/tables/{table}/keys/dir/b")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(10), "the revoked lease's keys to be deleted");
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync($"/v1/tables/{table}/keys/free")).StatusCode);
    }

    [Fact]
    public async Task An_expired_lease_deletes_its_keys()
    {
        var table = await FencedWriteTests.NewTableAsync(Http);
        // A 2 s lease may end before a put on a machine under heavy load: then a new lease is tried.
        string lease;
        HttpStatusCode put;
        var attempts = 0;
        do
        {
            (lease, _) = await Http.GrantAsync(2);
            put = (await PutAsync(table, "k", lease)).StatusCode;
        }
        while (put == HttpStatusCode.NotFound && ++attempts < 5);
        Assert.Equal(HttpStatusCode.Created, put);

        await Eventually.WaitAsync(async () => (await Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(20), "the expired lease's key to be deleted");
        Assert.Equal(HttpStatusCode.NotFound, (await Http.KeepAliveAsync(lease)).StatusCode);
    }

    [Fact]
    public async Task A_put_naming_an_ended_or_unknown_lease_is_404_lease_not_found_and_writes_nothing()
    {
        var table = await FencedWriteTests.NewTableAsync(Http);
        var (lease, _) = await Http.GrantAsync(60);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/leases/{lease}")).StatusCode);

        foreach (var id in new[] { lease, "0000000000000000000000000000dead", "not a lease id", "" })
        {
            var problem = await AssertProblemAsync(await PutAsync(table, "k", id), HttpStatusCode.NotFound);
            Assert.Equal("urn:orleans-compute:problem:lease-not-found", problem.GetProperty("type").GetString());
        }

        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode);
    }

    [Fact]
    public async Task Another_tenants_lease_is_not_found()
    {
        var other = await Tenants.ClientAsync(fixture, """["coord", "data:read", "data:write"]""");
        var table = await FencedWriteTests.NewTableAsync(Http);
        var (theirs, _) = await other.GrantAsync(60);

        await AssertProblemAsync(await PutAsync(table, "k", theirs), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode);
    }

    [Fact]
    public async Task A_lease_that_ends_while_its_table_reshards_still_deletes_its_keys()
    {
        var table = await FencedWriteTests.NewTableAsync(Http);
        var (lease, _) = await Http.GrantAsync(60);
        var keys = Enumerable.Range(0, 40).Select(i => $"k{i}").ToList();
        foreach (var key in keys)
        {
            Assert.Equal(HttpStatusCode.Created, (await PutAsync(table, key, lease)).StatusCode);
        }

        var reshard = await Http.PatchAsync($"/v1/tables/{table}", CoordClient.Json("{\"shards\": 8}"));
        Assert.True(reshard.IsSuccessStatusCode, await reshard.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/leases/{lease}")).StatusCode);

        await Eventually.WaitAsync(async () =>
            {
                var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys?limit=100");
                var info = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}");
                return page.GetProperty("items").GetArrayLength() == 0 && !info.TryGetProperty("resharding", out _);
            },
            TimeSpan.FromSeconds(30), "every key of the ended lease to be gone after the reshard");
    }

    [Fact]
    public async Task A_lease_on_a_transactional_table_is_400()
    {
        var table = Names.Table("leasetx");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", CoordClient.Json("{\"shards\": 2, \"transactional\": true}"))).StatusCode);
        var (lease, _) = await Http.GrantAsync(60);

        var problem = await AssertProblemAsync(await PutAsync(table, "k", lease), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("lease", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode);
    }

    private Task<HttpResponseMessage> PutAsync(string table, string key, string? lease) =>
        Http.PutAsync($"/v1/tables/{table}/keys/{key}{(lease is null ? "" : $"?lease={Uri.EscapeDataString(lease)}")}", CoordClient.Json("\"v\""));
}
