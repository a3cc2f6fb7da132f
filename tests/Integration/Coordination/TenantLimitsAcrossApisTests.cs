using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tenancy;
using OrleansCompute.Tests.Infrastructure;
using OrleansCompute.Tests.Watch;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Coordination;

/// <summary>
/// Issue 14's per-tenant limits on waiters and watch streams hold for the whole service: two Api
/// hosts against the shared two-silo PostgreSQL cluster share each tenant's limit, and the slots of
/// an Api that stops renewing come back (docs/coordination.md, "Per-tenant limits").
/// </summary>
[Collection(SharedClusterCollection.Name)]
public class TenantLimitsAcrossApisTests(SharedClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private const string WatchScopes = """["data:read", "data:write"]""";

    private ApiFactory NewApi(string limit, string value) => new(new Dictionary<string, string?>(fixture.Cluster.Settings)
    {
        [limit] = value,
        ["Slots:RenewPeriod"] = "00:00:00.500",
    });

    [Fact]
    public async Task Watch_streams_are_limited_per_tenant_across_two_Apis_and_a_closed_one_frees_its_slot_on_either()
    {
        await using var apiA = NewApi("Watch:MaxStreamsPerTenant", "2");
        await using var apiB = NewApi("Watch:MaxStreamsPerTenant", "2");
        await apiA.CreateReadyClientAsync();
        await apiB.CreateReadyClientAsync();
        var (_, key) = await Tenants.KeyAsync(fixture, WatchScopes);
        var viaA = apiA.CreateClientWithKey(key);
        var viaB = apiB.CreateClientWithKey(key);
        var table = await WatchApiTests.NewTableAsync(viaA, shards: 1);
        var url = $"/v1/tables/{table}/watch";

        var (onA, statusA) = await WatchReader.OpenAsync(viaA, url);
        var (onB, statusB) = await WatchReader.OpenAsync(viaB, url);
        await using (onB)
        {
            await using (onA)
            {
                Assert.Equal((200, 200), (statusA, statusB));
                foreach (var via in new[] { viaA, viaB })
                {
                    var (third, status) = await WatchReader.OpenAsync(via, url);
                    await using (third)
                    {
                        Assert.Equal(429, status);
                        Assert.Equal("urn:orleans-compute:problem:too-many-requests", third.Problem.GetProperty("type").GetString());
                    }
                }

                // Another tenant's streams are not counted against this one.
                var other = await Tenants.ClientAsync(fixture, WatchScopes, apiB);
                var (theirs, allowed) = await WatchReader.OpenAsync(other, $"/v1/tables/{await WatchApiTests.NewTableAsync(other, shards: 1)}/watch");
                await using (theirs)
                {
                    Assert.Equal(200, allowed);
                }
            }

            // A's stream closed: B may open one in its place, and then the tenant is full again.
            var (again, _) = await OpenEventuallyAsync(viaB, url);
            await using (again)
            {
                var (refused, status) = await WatchReader.OpenAsync(viaA, url);
                await using (refused)
                {
                    Assert.Equal(429, status);
                }
            }
        }
    }

    [Fact]
    public async Task Waiters_are_limited_per_tenant_across_two_Apis_and_an_acquire_granted_at_once_is_not_counted()
    {
        await using var apiA = NewApi("Coordination:MaxWaitersPerTenant", "1");
        await using var apiB = NewApi("Coordination:MaxWaitersPerTenant", "1");
        await apiA.CreateReadyClientAsync();
        await apiB.CreateReadyClientAsync();
        var (_, key) = await Tenants.KeyAsync(fixture, """["coord"]""");
        var viaA = apiA.CreateClientWithKey(key);
        var viaB = apiB.CreateClientWithKey(key);
        var (holder, _) = await viaA.GrantAsync(60);
        var (waiter, _) = await viaA.GrantAsync(60);
        var (late, _) = await viaB.GrantAsync(60);
        var name = CoordClient.LockName();
        var token = await viaA.TokenAsync(name, holder);

        var waiting = viaA.AcquireAsync(name, waiter, 60);
        await Eventually.WaitAsync(async () => (await viaA.LockAsync(name)).Waiters == 1, Deadline, "one waiter");

        foreach (var via in new[] { viaB, viaA })
        {
            var refused = await AssertProblemAsync(await via.AcquireAsync(name, late, 60), HttpStatusCode.TooManyRequests);
            Assert.Equal("urn:orleans-compute:problem:quota-exceeded", refused.GetProperty("type").GetString());
        }

        Assert.Equal(1, (await viaB.LockAsync(name)).Waiters);
        // A free lock is granted without waiting, so it needs no waiter slot, even with waitSeconds.
        Assert.True(await viaB.TokenAsync(CoordClient.LockName(), late, waitSeconds: 60) >= 1);

        // Another tenant waits on its own slots.
        var other = await Tenants.ClientAsync(fixture, """["coord"]""", apiB);
        var (otherHolder, _) = await other.GrantAsync(60);
        var (otherWaiter, _) = await other.GrantAsync(60);
        var otherToken = await other.TokenAsync(name, otherHolder);
        var otherWaiting = other.AcquireAsync(name, otherWaiter, 60);
        await Eventually.WaitAsync(async () => (await other.LockAsync(name)).Waiters == 1, Deadline, "the other tenant's waiter");
        Assert.Equal(HttpStatusCode.NoContent, (await other.ReleaseAsync(name, otherToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await otherWaiting).StatusCode);

        // The waiter on A is served; its slot is free for a waiter on B.
        Assert.Equal(HttpStatusCode.NoContent, (await viaA.ReleaseAsync(name, token)).StatusCode);
        var granted = await waiting;
        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        var grantedToken = (await granted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetInt64();
        var lateWaiting = viaB.AcquireAsync(name, late, 60);
        await Eventually.WaitAsync(async () => (await viaB.LockAsync(name)).Waiters == 1, Deadline, "B's waiter admitted");
        Assert.Equal(HttpStatusCode.NoContent, (await viaA.ReleaseAsync(name, grantedToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await lateWaiting).StatusCode);
    }

    [Fact]
    public async Task The_slots_of_an_Api_that_stops_renewing_come_back_after_the_bound()
    {
        await using var api = NewApi("Watch:MaxStreamsPerTenant", "2");
        await api.CreateReadyClientAsync();
        var (tenant, key) = await Tenants.KeyAsync(fixture, WatchScopes);
        var http = api.CreateClientWithKey(key);
        var url = $"/v1/tables/{await WatchApiTests.NewTableAsync(http, shards: 1)}/watch";

        // An Api process that holds the tenant's two streams, renews once, and then dies: it never renews again.
        var slots = fixture.Cluster.Silos[0].Grains.GetGrain<ITenantSlotsGrain>(TenantKey.For(tenant, SlotKinds.WatchStreams));
        var crashed = new SlotHolder("crashed-api", TimeSpan.FromSeconds(5));
        Assert.True(await slots.TryTakeAsync(crashed, 1, limit: 2));
        Assert.True(await slots.TryTakeAsync(crashed, 2, limit: 2));
        await slots.RenewAsync(crashed, new SlotHoldings([1, 2], [], 2));

        var (refused, status) = await WatchReader.OpenAsync(http, url);
        await using (refused)
        {
            Assert.Equal(429, status);
        }

        var (admitted, _) = await OpenEventuallyAsync(http, url);
        await admitted.DisposeAsync();
    }

    // Opens until admitted: a slot given back reaches the grain a moment after the stream closed.
    private static async Task<(WatchReader Reader, int Status)> OpenEventuallyAsync(HttpClient http, string url)
    {
        (WatchReader Reader, int Status) opened = default;
        await Eventually.WaitAsync(async () =>
        {
            opened = await WatchReader.OpenAsync(http, url);
            if (opened.Status == 200)
            {
                return true;
            }

            Assert.Equal(429, opened.Status);
            await opened.Reader.DisposeAsync();
            return false;
        }, Deadline, "a slot to come back");
        return opened;
    }
}
