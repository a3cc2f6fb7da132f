using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Coordination;

/// <summary>SPEC §4.4, leases, through the REST API on two silos and PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class LeaseApiTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Grant_answers_201_with_the_id_ttl_and_expiry_and_get_shows_what_is_left()
    {
        var before = DateTimeOffset.UtcNow;
        var response = await Http.PostAsync("/v1/leases", CoordClient.Json("{\"ttlSeconds\": 30}"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var grant = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = grant.GetProperty("id").GetString()!;
        Assert.Equal($"/v1/leases/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(30, grant.GetProperty("ttlSeconds").GetInt32());
        Assert.True(grant.GetProperty("expiresAt").GetDateTimeOffset() >= before.AddSeconds(30));

        var lease = await Http.GetFromJsonAsync<JsonElement>($"/v1/leases/{id}");
        Assert.Equal(id, lease.GetProperty("id").GetString());
        Assert.InRange(lease.GetProperty("remainingMs").GetInt64(), 20_000, 30_000);
        Assert.Equal(0, lease.GetProperty("locks").GetArrayLength());
        Assert.Equal(0, lease.GetProperty("keys").GetArrayLength());
        Assert.Equal(0, lease.GetProperty("elections").GetArrayLength());

        var keepalive = await Http.KeepAliveAsync(id);
        Assert.Equal(HttpStatusCode.OK, keepalive.StatusCode);
        var renewed = await keepalive.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((id, 30), (renewed.GetProperty("id").GetString(), renewed.GetProperty("ttlSeconds").GetInt32()));
    }

    [Fact]
    public async Task A_lease_never_ends_sooner_than_its_ttl_after_the_last_keepalive_and_an_ended_lease_is_final()
    {
        var (id, _) = await Http.GrantAsync(2);
        // Keepalives for a while, each answered one restarting the TTL: the lease must outlive every one by 2 s.
        Stopwatch sinceLastKeepAlive = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++)
        {
            // Started before the keepalive is sent: its answer, and so the TTL, comes later.
            sinceLastKeepAlive = Stopwatch.StartNew();
            var keepalive = await Http.KeepAliveAsync(id);
            Assert.Equal(HttpStatusCode.OK, keepalive.StatusCode);
            await Eventually.WaitAsync(() => Task.FromResult(sinceLastKeepAlive.Elapsed > TimeSpan.FromSeconds(0.9)), TimeSpan.FromSeconds(5), "most of a second");
        }

        var live = true;
        await Eventually.WaitAsync(async () =>
        {
            var response = await Http.GetAsync($"/v1/leases/{id}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return false;
            }

            // Read after the 404 came: the lease had ended by then, at least its TTL after the keepalive was sent.
            var elapsed = sinceLastKeepAlive.Elapsed;

            live = false;
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.True(elapsed >= TimeSpan.FromSeconds(2), $"ended {elapsed.TotalSeconds:F2}s after the last keepalive was sent, before its 2 s TTL");
            return true;
        }, TimeSpan.FromSeconds(15), "the lease to end");
        Assert.False(live);

        var problem = await AssertProblemAsync(await Http.KeepAliveAsync(id), HttpStatusCode.NotFound);
        Assert.Equal("urn:orleans-compute:problem:lease-not-found", problem.GetProperty("type").GetString());
        await AssertProblemAsync(await Http.GetAsync($"/v1/leases/{id}"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.DeleteAsync($"/v1/leases/{id}"), HttpStatusCode.NotFound);
        Assert.DoesNotContain(id, await Http.GetStringAsync("/v1/leases?limit=1000"));
    }

    [Fact]
    public async Task The_ttl_is_measured_from_the_keepalive_on_the_server_never_less()
    {
        // Every read of remainingMs right after a keepalive is close to the full TTL, never above it.
        var (id, _) = await Http.GrantAsync(5);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Http.KeepAliveAsync(id)).StatusCode);
            var remaining = (await Http.GetFromJsonAsync<JsonElement>($"/v1/leases/{id}")).GetProperty("remainingMs").GetInt64();
            Assert.InRange(remaining, 3_000, 5_000);
        }
    }

    [Fact]
    public async Task Revoke_ends_the_lease_at_once_and_releases_its_locks()
    {
        var (id, _) = await Http.GrantAsync(60);
        var name = CoordClient.LockName();
        var token = await Http.TokenAsync(name, id);
        Assert.Equal([name], (await Http.GetFromJsonAsync<JsonElement>($"/v1/leases/{id}")).GetProperty("locks").EnumerateArray().Select(l => l.GetString()));

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/leases/{id}")).StatusCode);

        Assert.Null((await Http.LockAsync(name)).Holder);
        await AssertProblemAsync(await Http.KeepAliveAsync(id), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.DeleteAsync($"/v1/leases/{id}"), HttpStatusCode.NotFound);
        var (other, _) = await Http.GrantAsync(60);
        Assert.True(await Http.TokenAsync(name, other) > token);
        // A lock asked for with the revoked lease is not granted to it.
        var problem = await AssertProblemAsync(await Http.AcquireAsync(CoordClient.LockName(), id, 0), HttpStatusCode.NotFound);
        Assert.Equal("urn:orleans-compute:problem:lease-not-found", problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task List_pages_the_tenants_live_leases()
    {
        var tenant = await Tenants.ClientAsync(fixture, "[\"coord\"]");
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await tenant.GrantAsync(60)).Id);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await tenant.DeleteAsync($"/v1/leases/{ids[0]}")).StatusCode);
        var seen = new List<string>();
        string? next = null;
        do
        {
            var page = await tenant.GetFromJsonAsync<JsonElement>($"/v1/leases?limit=2{(next is null ? "" : $"&after={next}")}");
            Assert.InRange(page.GetProperty("items").GetArrayLength(), 1, 2);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(l => l.GetProperty("id").GetString()!));
            next = page.GetProperty("next").GetString();
        }
        while (next is not null);

        Assert.Equal(ids.Skip(1).Order(StringComparer.Ordinal), seen);
    }

    [Theory]
    [InlineData("{\"ttlSeconds\": 1}", "ttlSeconds")]
    [InlineData("{\"ttlSeconds\": 3601}", "ttlSeconds")]
    [InlineData("{\"ttlSeconds\": -5}", "ttlSeconds")]
    [InlineData("{}", "ttlSeconds")]
    public async Task A_ttl_out_of_range_is_400_naming_the_field_and_grants_nothing(string body, string field)
    {
        var tenant = await Tenants.ClientAsync(fixture, "[\"coord\"]");

        var problem = await AssertProblemAsync(await tenant.PostAsync("/v1/leases", CoordClient.Json(body)), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
        Assert.Equal(0, (await tenant.GetFromJsonAsync<JsonElement>("/v1/leases")).GetProperty("items").GetArrayLength());
    }

    [Theory]
    [InlineData("{\"ttlSeconds\": \"ten\"}")]
    [InlineData("{\"ttlSeconds\": 10")]
    [InlineData("[]")]
    public async Task A_malformed_grant_is_400(string body)
    {
        var tenant = await Tenants.ClientAsync(fixture, "[\"coord\"]");

        await AssertProblemAsync(await tenant.PostAsync("/v1/leases", CoordClient.Json(body)), HttpStatusCode.BadRequest);

        Assert.Equal(0, (await tenant.GetFromJsonAsync<JsonElement>("/v1/leases")).GetProperty("items").GetArrayLength());
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData("not-a-lease")]
    public async Task An_unknown_lease_is_404(string id)
    {
        await AssertProblemAsync(await Http.KeepAliveAsync(id), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.GetAsync($"/v1/leases/{id}"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.DeleteAsync($"/v1/leases/{id}"), HttpStatusCode.NotFound);
    }
}
