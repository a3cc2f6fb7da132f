using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Api;

/// <summary>
/// SPEC §7, walked through the OWASP API Security Top 10 (2023) items that apply here, against
/// two silos on PostgreSQL through the REST API.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public class SecurityTests(SharedClusterFixture fixture)
{
    private const string TenantScopes = "[\"data:read\", \"data:write\", \"jobs\", \"coord\"]";

    private HttpClient Admin => fixture.Http;

    // API1 Broken object-level authorization: another tenant's objects do not exist for you.
    [Fact]
    public async Task Another_tenants_tables_and_keys_answer_404_and_the_same_names_never_collide()
    {
        var acme = await TenantClientAsync();
        var globex = await TenantClientAsync();
        Assert.Equal(HttpStatusCode.Created, (await acme.PutAsync("/v1/tables/orders", Json("{\"shards\": 2}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await acme.PutAsync("/v1/tables/orders/keys/o1", Json("\"acme's\""))).StatusCode);

        await AssertProblemAsync(await globex.GetAsync("/v1/tables/orders"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.GetAsync("/v1/tables/orders/keys/o1"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.DeleteAsync("/v1/tables/orders"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.GetAsync("/v1/tables/orders/shards"), HttpStatusCode.NotFound);
        Assert.Equal(0, (await globex.GetFromJsonAsync<JsonElement>("/v1/tables")).GetProperty("items").GetArrayLength());

        Assert.Equal(HttpStatusCode.Created, (await globex.PutAsync("/v1/tables/orders", Json("{\"shards\": 4}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await globex.PutAsync("/v1/tables/orders/keys/o1", Json("\"globex's\""))).StatusCode);
        Assert.Equal("\"acme's\"", await acme.GetStringAsync("/v1/tables/orders/keys/o1"));
        Assert.Equal("\"globex's\"", await globex.GetStringAsync("/v1/tables/orders/keys/o1"));
        Assert.Equal(2, (await acme.GetFromJsonAsync<JsonElement>("/v1/tables/orders")).GetProperty("shards").GetInt32());
    }

    // API2 Broken authentication.
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not-a-key")]
    [InlineData("oc_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Missing_malformed_and_unknown_keys_are_401(string? key)
    {
        using var http = fixture.Cluster.Api.CreateClientWithKey(null);
        if (key is not null)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", key == "" ? "Bearer" : $"Bearer {key}");
        }

        foreach (var path in new[] { "/v1/tables", "/v1/cluster", "/v1/admin/tenants" })
        {
            var response = await http.GetAsync(path);
            await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
    }

    [Fact]
    public async Task A_real_key_id_with_a_wrong_secret_is_401()
    {
        var (tenant, id, key) = await IssueAsync(await NewTenantAsync(), TenantScopes);
        var forged = key[..^4] + (key[^4..] == "AAAA" ? "BBBB" : "AAAA");

        using var http = fixture.Cluster.Api.CreateClientWithKey(forged);

        await AssertProblemAsync(await http.GetAsync("/v1/tables"), HttpStatusCode.Unauthorized);
        Assert.Equal(tenant, tenant);
        Assert.StartsWith($"oc_{id}_", key);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_within_seconds()
    {
        var tenant = await NewTenantAsync();
        var (_, id, key) = await IssueAsync(tenant, TenantScopes);
        using var http = fixture.Cluster.Api.CreateClientWithKey(key);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/tables")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/v1/admin/tenants/{tenant}/keys/{id}")).StatusCode);

        // A second Api instance has the key cached; it must learn of the revocation within its cache time.
        await using var otherApi = new ApiFactory(fixture.Cluster.Settings);
        using var other = otherApi.CreateClientWithKey(key);
        await AssertProblemAsync(await http.GetAsync("/v1/tables"), HttpStatusCode.Unauthorized);
        await Eventually.WaitAsync(async () => (await other.GetAsync("/v1/tables")).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(10), "the revocation to reach the other Api instance");
        var keys = await Admin.GetFromJsonAsync<JsonElement>($"/v1/admin/tenants/{tenant}/keys");
        Assert.NotEqual(JsonValueKind.Null, keys.GetProperty("items")[0].GetProperty("revokedAt").ValueKind);
    }

    [Fact]
    public async Task Health_and_swagger_need_no_key()
    {
        using var http = fixture.Cluster.Api.CreateClientWithKey(null);

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/swagger/v1/swagger.json")).StatusCode);
    }

    // API5 Broken function-level authorization: scopes are enforced per endpoint.
    [Fact]
    public async Task A_tenant_key_cannot_use_admin_endpoints()
    {
        var tenant = await NewTenantAsync();
        var (_, _, key) = await IssueAsync(tenant, TenantScopes);
        using var http = fixture.Cluster.Api.CreateClientWithKey(key);

        await AssertProblemAsync(await http.GetAsync("/v1/admin/tenants"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await http.PostAsync("/v1/admin/tenants", Json("{\"name\": \"takeover\"}")), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await http.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json("{\"name\": \"more\", \"scopes\": [\"admin\"]}")), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await http.GetAsync("/v1/cluster"), HttpStatusCode.Forbidden);
        Assert.DoesNotContain("takeover", (await Admin.GetFromJsonAsync<JsonElement>("/v1/admin/tenants?limit=1000"))
            .GetProperty("items").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task A_read_only_key_cannot_write()
    {
        var tenant = await NewTenantAsync();
        var (_, _, writer) = await IssueAsync(tenant, TenantScopes);
        var (_, _, reader) = await IssueAsync(tenant, "[\"data:read\"]");
        using var write = fixture.Cluster.Api.CreateClientWithKey(writer);
        using var read = fixture.Cluster.Api.CreateClientWithKey(reader);
        await write.PutAsync("/v1/tables/t", null);
        await write.PutAsync("/v1/tables/t/keys/k", Json("1"));

        Assert.Equal("1", await read.GetStringAsync("/v1/tables/t/keys/k"));
        await AssertProblemAsync(await read.PutAsync("/v1/tables/t/keys/k", Json("2")), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await read.DeleteAsync("/v1/tables/t"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await read.PostAsync("/v1/tables/t/batch", Json("{\"ops\":[{\"op\":\"delete\",\"key\":\"k\"}]}")), HttpStatusCode.Forbidden);
        Assert.Equal("1", await read.GetStringAsync("/v1/tables/t/keys/k"));
    }

    [Theory]
    [InlineData("[\"admin\"]")]
    [InlineData("[\"root\"]")]
    [InlineData("[]")]
    public async Task Keys_cannot_be_issued_with_admin_or_unknown_scopes_for_a_tenant(string scopes)
    {
        var tenant = await NewTenantAsync();

        var response = await Admin.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json($"{{\"name\": \"k\", \"scopes\": {scopes}}}"));

        Assert.True((await AssertProblemAsync(response, HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("scopes", out _));
    }

    // API4 Unrestricted resource consumption: per-key rate, body size, operation counts.
    [Fact]
    public async Task One_keys_rate_limit_never_limits_another_key()
    {
        await using var api = new ApiFactory(new Dictionary<string, string?>(fixture.Cluster.Settings) { ["RateLimit:RequestsPerSecond"] = "5" });
        var (_, _, noisyKey) = await IssueAsync(await NewTenantAsync(), TenantScopes);
        var (_, _, quietKey) = await IssueAsync(await NewTenantAsync(), TenantScopes);
        using var noisy = api.CreateClientWithKey(noisyKey);
        using var quiet = api.CreateClientWithKey(quietKey);
        await Eventually.WaitAsync(async () => (await quiet.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "Api ready");

        var burst = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => noisy.GetAsync("/v1/tables")));
        var quietAnswer = await quiet.GetAsync("/v1/tables");

        var limited = burst.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(limited);
        Assert.True(limited[0].Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        await AssertProblemAsync(limited[0], HttpStatusCode.TooManyRequests);
        Assert.Equal(HttpStatusCode.OK, quietAnswer.StatusCode);
    }

    [Fact]
    public async Task Page_sizes_batch_sizes_and_bodies_are_bounded()
    {
        var http = await TenantClientAsync();
        await http.PutAsync("/v1/tables/t", null);
        var ops = string.Join(",", Enumerable.Range(0, 1001).Select(i => $"{{\"op\":\"get\",\"key\":\"k{i}\"}}"));

        await AssertProblemAsync(await http.GetAsync("/v1/tables/t/keys?limit=1001"), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await http.GetAsync("/v1/tables?limit=5000"), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await http.PostAsync("/v1/tables/t/batch", Json($"{{\"ops\":[{ops}]}}")), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await http.PutAsync("/v1/tables/t/keys/big", Json("\"" + new string('x', 2 * 1024 * 1024) + "\"")), HttpStatusCode.RequestEntityTooLarge);
    }

    // API3/API6 Mass assignment: the tenant comes from the key, never from the body.
    [Fact]
    public async Task A_tenant_in_a_body_never_selects_the_tenant()
    {
        var victim = await NewTenantAsync();
        var (_, _, attackerKey) = await IssueAsync(await NewTenantAsync(), TenantScopes);
        using var attacker = fixture.Cluster.Api.CreateClientWithKey(attackerKey);

        var create = await attacker.PutAsync("/v1/tables/planted", Json($"{{\"shards\": 2, \"tenant\": \"{victim}\"}}"));
        await attacker.PutAsync("/v1/tables/mine", null);
        var batch = await attacker.PostAsync("/v1/tables/mine/batch", Json($"{{\"tenant\": \"{victim}\", \"ops\":[{{\"op\":\"put\",\"key\":\"k\",\"value\":1}}]}}"));

        await AssertProblemAsync(create, HttpStatusCode.BadRequest);
        await AssertProblemAsync(batch, HttpStatusCode.BadRequest);
        var (_, _, victimKey) = await IssueAsync(victim, TenantScopes);
        using var victimHttp = fixture.Cluster.Api.CreateClientWithKey(victimKey);
        Assert.Equal(0, (await victimHttp.GetFromJsonAsync<JsonElement>("/v1/tables")).GetProperty("items").GetArrayLength());
        await AssertProblemAsync(await attacker.GetAsync("/v1/tables/planted"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Admins_create_tenants_and_issue_list_and_revoke_keys_without_ever_showing_a_key_again()
    {
        var tenant = $"t{Guid.NewGuid():N}"[..20];

        var created = await Admin.PostAsync("/v1/admin/tenants", Json($"{{\"name\": \"{tenant}\"}}"));
        var duplicate = await Admin.PostAsync("/v1/admin/tenants", Json($"{{\"name\": \"{tenant}\"}}"));
        var invalid = await Admin.PostAsync("/v1/admin/tenants", Json("{\"name\": \"Not/Valid\"}"));
        var issued = await Admin.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json($"{{\"name\": \"ci\", \"scopes\": {TenantScopes}}}"));
        var missingTenant = await Admin.PostAsync("/v1/admin/tenants/nobody-here/keys", Json($"{{\"name\": \"ci\", \"scopes\": {TenantScopes}}}"));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        await AssertProblemAsync(duplicate, HttpStatusCode.Conflict);
        await AssertProblemAsync(invalid, HttpStatusCode.BadRequest);
        await AssertProblemAsync(missingTenant, HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        var key = await issued.Content.ReadFromJsonAsync<JsonElement>();
        var listed = await Admin.GetStringAsync($"/v1/admin/tenants/{tenant}/keys");
        Assert.Contains(key.GetProperty("id").GetString()!, listed);
        Assert.DoesNotContain(key.GetProperty("key").GetString()!, listed);
        // The secret is everything after "<prefix><id>_"; it may itself contain '_'.
        var secret = key.GetProperty("key").GetString()!.Split(key.GetProperty("id").GetString() + "_", 2)[1];
        Assert.DoesNotContain(secret, listed);
        Assert.Contains(tenant, await Admin.GetStringAsync("/v1/admin/tenants?limit=1000"));
        await AssertProblemAsync(await Admin.DeleteAsync($"/v1/admin/tenants/{tenant}/keys/nope"), HttpStatusCode.NotFound);
        var stored = await TestDatabase.ScalarAsync<long>(fixture.Cluster.ConnectionString,
            "SELECT count(*) FROM oc_grain_state WHERE position(convert_to(@secret, 'UTF8') in payload) > 0",
            ("secret", secret));
        Assert.Equal(0, stored);
    }

    private async Task<string> NewTenantAsync()
    {
        var tenant = $"t{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsync("/v1/admin/tenants", Json($"{{\"name\": \"{tenant}\"}}"))).StatusCode);
        return tenant;
    }

    private async Task<(string Tenant, string Id, string Key)> IssueAsync(string tenant, string scopes)
    {
        var response = await Admin.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json($"{{\"name\": \"test\", \"scopes\": {scopes}}}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var issued = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (tenant, issued.GetProperty("id").GetString()!, issued.GetProperty("key").GetString()!);
    }

    private async Task<HttpClient> TenantClientAsync()
    {
        var (_, _, key) = await IssueAsync(await NewTenantAsync(), TenantScopes);
        return fixture.Cluster.Api.CreateClientWithKey(key);
    }
}
