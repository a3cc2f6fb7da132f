using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Coordination;

/// <summary>SPEC §4.4, locks, through the REST API on two silos and PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class LockApiTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Acquire_grants_a_token_get_shows_the_holder_and_release_frees_it()
    {
        var (lease, _) = await Http.GrantAsync(60);
        var name = CoordClient.LockName("jobs/leader.v1");

        var token = await Http.TokenAsync(name, lease);

        Assert.True(token >= 1);
        var view = await Http.GetFromJsonAsync<JsonElement>($"/v1/locks/{name}");
        Assert.Equal(lease, view.GetProperty("holder").GetProperty("lease").GetString());
        Assert.Equal(token, view.GetProperty("holder").GetProperty("token").GetInt64());
        Assert.True(view.GetProperty("holder").GetProperty("acquiredAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal(0, view.GetProperty("waiters").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, token)).StatusCode);
        Assert.Null((await Http.LockAsync(name)).Holder);
        // Released already by this token: still 204.
        Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, token)).StatusCode);
        Assert.Equal(token + 1, await Http.TokenAsync(name, lease));
    }

    [Fact]
    public async Task A_held_lock_is_409_lock_held_at_once_with_wait_zero_and_after_the_wait_otherwise()
    {
        var (holder, _) = await Http.GrantAsync(60);
        var (other, _) = await Http.GrantAsync(60);
        var name = CoordClient.LockName();
        var token = await Http.TokenAsync(name, holder);

        var tryOnce = await AssertProblemAsync(await Http.AcquireAsync(name, other, 0), HttpStatusCode.Conflict);
        Assert.Equal("urn:orleans-compute:problem:lock-held", tryOnce.GetProperty("type").GetString());
        var waited = System.Diagnostics.Stopwatch.StartNew();
        await AssertProblemAsync(await Http.AcquireAsync(name, other, 1), HttpStatusCode.Conflict);
        Assert.True(waited.Elapsed >= TimeSpan.FromSeconds(0.95), $"gave up after {waited.Elapsed.TotalSeconds:F2}s");

        // A release by a token that does not hold it changes nothing.
        await AssertProblemAsync(await Http.ReleaseAsync(name, token + 1), HttpStatusCode.Conflict);
        Assert.Equal((holder, token), (await Http.LockAsync(name)).Holder);
        Assert.Equal(0, (await Http.LockAsync(name)).Waiters);
    }

    [Fact]
    public async Task Waiters_are_served_first_come_first_served_one_per_release_with_growing_tokens()
    {
        var name = CoordClient.LockName();
        var (first, _) = await Http.GrantAsync(60);
        var token = await Http.TokenAsync(name, first);
        var leases = new List<string>();
        var waits = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 4; i++)
        {
            leases.Add((await Http.GrantAsync(60)).Id);
            waits.Add(Http.AcquireAsync(name, leases[i], 60));
            var expected = i + 1;
            await Eventually.WaitAsync(async () => (await Http.LockAsync(name)).Waiters == expected, TimeSpan.FromSeconds(10), $"{expected} in line");
        }

        var previous = token;
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, previous)).StatusCode);
            var granted = await waits[i];
            Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
            var next = (await granted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetInt64();
            Assert.True(next > previous, $"token {next} after {previous}");
            // One release woke one waiter: the rest still wait, in line.
            var (holder, waiters) = await Http.LockAsync(name);
            Assert.Equal((leases[i], next), holder);
            Assert.Equal(3 - i, waiters);
            Assert.All(waits.Skip(i + 1), w => Assert.False(w.IsCompleted));
            previous = next;
        }
    }

    [Fact]
    public async Task A_waiter_whose_request_is_closed_leaves_the_line()
    {
        var name = CoordClient.LockName();
        var (holder, _) = await Http.GrantAsync(60);
        var (quitter, _) = await Http.GrantAsync(60);
        var (patient, _) = await Http.GrantAsync(60);
        var token = await Http.TokenAsync(name, holder);
        using var close = new CancellationTokenSource();
        var gone = Http.AcquireAsync(name, quitter, 120, close.Token);
        await Eventually.WaitAsync(async () => (await Http.LockAsync(name)).Waiters == 1, TimeSpan.FromSeconds(10), "the quitter in line");
        var stays = Http.AcquireAsync(name, patient, 120);
        await Eventually.WaitAsync(async () => (await Http.LockAsync(name)).Waiters == 2, TimeSpan.FromSeconds(10), "two in line");

        await close.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gone);
        await Eventually.WaitAsync(async () => (await Http.LockAsync(name)).Waiters == 1, TimeSpan.FromSeconds(10), "the closed waiter to leave the line");

        Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await stays).StatusCode);
        Assert.Equal(patient, (await Http.LockAsync(name)).Holder?.Lease);
        var quitterLease = await Http.GetFromJsonAsync<JsonElement>($"/v1/leases/{quitter}");
        Assert.Equal(0, quitterLease.GetProperty("locks").GetArrayLength());
    }

    [Fact]
    public async Task A_lock_whose_lease_ends_goes_to_the_next_waiter_with_a_higher_token()
    {
        var name = CoordClient.LockName();
        var (dying, _) = await Http.GrantAsync(2);
        var (next, _) = await Http.GrantAsync(60);
        var token = await Http.TokenAsync(name, dying);

        // No keepalive: the lease ends about 2 s from now, and the waiter gets the lock.
        var granted = await Http.TokenAsync(name, next, waitSeconds: 30);

        Assert.True(granted > token);
        await AssertProblemAsync(await Http.KeepAliveAsync(dying), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.ReleaseAsync(name, token), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Another_tenants_lock_never_blocks_yours_and_its_leases_are_404()
    {
        var acme = await Tenants.ClientAsync(fixture, "[\"coord\"]");
        var globex = await Tenants.ClientAsync(fixture, "[\"coord\"]");
        var (acmeLease, _) = await acme.GrantAsync(60);
        var (globexLease, _) = await globex.GrantAsync(60);
        await acme.TokenAsync("leader", acmeLease);

        Assert.Equal(1, await globex.TokenAsync("leader", globexLease));
        await AssertProblemAsync(await globex.GetAsync($"/v1/leases/{acmeLease}"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.KeepAliveAsync(acmeLease), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.DeleteAsync($"/v1/leases/{acmeLease}"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.AcquireAsync("other", acmeLease, 0), HttpStatusCode.NotFound);
        Assert.Equal(acmeLease, (await acme.LockAsync("leader")).Holder?.Lease);
        Assert.Equal(HttpStatusCode.OK, (await acme.GetAsync($"/v1/leases/{acmeLease}")).StatusCode);
        Assert.DoesNotContain(acmeLease, await globex.GetStringAsync("/v1/leases"));
    }

    [Fact]
    public async Task Coordination_needs_the_coord_scope()
    {
        var reader = await Tenants.ClientAsync(fixture, "[\"data:read\", \"data:write\", \"jobs\"]");

        await AssertProblemAsync(await reader.PostAsync("/v1/leases", CoordClient.Json("{\"ttlSeconds\": 10}")), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await reader.GetAsync("/v1/leases"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await reader.GetAsync("/v1/locks/a"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await reader.AcquireAsync("a", "0123456789abcdef0123456789abcdef", 0), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await reader.ReleaseAsync("a", 1), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Beyond_the_tenant_limits_leases_and_waiters_are_429()
    {
        await using var api = new ApiFactory(new Dictionary<string, string?>(fixture.Cluster.Settings)
        {
            ["Coordination:MaxLeasesPerTenant"] = "3",
            ["Coordination:MaxWaitersPerTenant"] = "1",
        });
        await api.CreateReadyClientAsync();
        var tenant = await Tenants.ClientAsync(fixture, "[\"coord\"]", api);
        var leases = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            leases.Add((await tenant.GrantAsync(60)).Id);
        }

        var refused = await AssertProblemAsync(await tenant.PostAsync("/v1/leases", CoordClient.Json("{\"ttlSeconds\": 10}")), HttpStatusCode.TooManyRequests);
        Assert.Equal("urn:orleans-compute:problem:quota-exceeded", refused.GetProperty("type").GetString());
        Assert.Equal(3, (await tenant.GetFromJsonAsync<JsonElement>("/v1/leases")).GetProperty("items").GetArrayLength());

        var token = await tenant.TokenAsync("busy", leases[0]);
        var waiting = tenant.AcquireAsync("busy", leases[1], 60);
        await Eventually.WaitAsync(async () => (await tenant.LockAsync("busy")).Waiters == 1, TimeSpan.FromSeconds(10), "one waiter");
        await AssertProblemAsync(await tenant.AcquireAsync("busy", leases[2], 60), HttpStatusCode.TooManyRequests);
        Assert.Equal(1, (await tenant.LockAsync("busy")).Waiters);

        // Revoking one makes room for one more.
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.DeleteAsync($"/v1/leases/{leases[2]}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await tenant.PostAsync("/v1/leases", CoordClient.Json("{\"ttlSeconds\": 10}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.ReleaseAsync("busy", token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await waiting).StatusCode);
    }

    [Theory]
    [InlineData("Upper", "{\"lease\": \"0123456789abcdef0123456789abcdef\", \"waitSeconds\": 0}", "name")]
    [InlineData("a/", "{\"lease\": \"0123456789abcdef0123456789abcdef\", \"waitSeconds\": 0}", "name")]
    [InlineData("ok", "{\"waitSeconds\": 0}", "lease")]
    [InlineData("ok", "{\"lease\": \"nope\"}", "lease")]
    [InlineData("ok", "{\"lease\": \"0123456789abcdef0123456789abcdef\", \"waitSeconds\": -1}", "waitSeconds")]
    [InlineData("ok", "{\"lease\": \"0123456789abcdef0123456789abcdef\", \"waitSeconds\": 301}", "waitSeconds")]
    public async Task Bad_acquires_are_400_naming_the_field_and_change_nothing(string name, string body, string field)
    {
        var tenant = await Tenants.ClientAsync(fixture, "[\"coord\"]");

        var problem = await AssertProblemAsync(await tenant.PostAsync($"/v1/locks/{name}", CoordClient.Json(body)), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Equal((null, 0), await tenant.LockAsync("ok"));
    }

    [Theory]
    [InlineData("{\"lease\": 5}")]
    [InlineData("{\"lease\": \"0123456789abcdef0123456789abcdef\", \"waitSeconds\": \"long\"}")]
    [InlineData("{")]
    public async Task Malformed_acquires_are_400(string body)
    {
        var tenant = await Tenants.ClientAsync(fixture, "[\"coord\"]");

        await AssertProblemAsync(await tenant.PostAsync("/v1/locks/ok", CoordClient.Json(body)), HttpStatusCode.BadRequest);

        Assert.Equal((null, 0), await tenant.LockAsync("ok"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("?token=0")]
    [InlineData("?token=abc")]
    public async Task A_release_without_a_valid_token_is_400(string query)
    {
        var response = await Http.DeleteAsync($"/v1/locks/{CoordClient.LockName()}{query}");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_lock_asked_for_with_an_unknown_lease_is_404_and_stays_free()
    {
        var name = CoordClient.LockName();

        var problem = await AssertProblemAsync(await Http.AcquireAsync(name, "0123456789abcdef0123456789abcdef", 5), HttpStatusCode.NotFound);

        Assert.Equal("urn:orleans-compute:problem:lease-not-found", problem.GetProperty("type").GetString());
        Assert.Equal((null, 0), await Http.LockAsync(name));
    }
}
