using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Coordination;

/// <summary>
/// SPEC §4.4 "the TTL is a lower bound", with an injected clock: the silos' wall clock steps an
/// hour forward and back (what an NTP step or a VM resume does) while leases are live, on two
/// silos and PostgreSQL. A lease reads only monotonic time and the store's clock, so it neither
/// ends early nor lives on.
/// </summary>
public class LeaseClockTests
{
    [Fact]
    public async Task A_wall_clock_step_of_an_hour_neither_cuts_a_lease_short_nor_keeps_it_alive()
    {
        await using var cluster = await PostgresCluster.StartAsync("leaseclock", silos: 2);
        using var http = await cluster.Api.CreateReadyClientAsync();
        var (id, _) = await http.GrantAsync(3);

        // An hour forward: were the lease timed by the wall clock it would have ended.
        cluster.CoordinationClock.Advance(TimeSpan.FromHours(1));
        var lease = await http.GetFromJsonAsync<JsonElement>($"/v1/leases/{id}");
        Assert.InRange(lease.GetProperty("remainingMs").GetInt64(), 1, 3_000);
        // Started before the keepalive is sent: its answer, and so the TTL, comes later.
        var sinceKeepAlive = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.OK, (await http.KeepAliveAsync(id)).StatusCode);

        // Two hours back: were it timed by the wall clock it would now live two hours more.
        cluster.CoordinationClock.Advance(TimeSpan.FromHours(-2));
        await Eventually.WaitAsync(async () =>
        {
            var response = await http.GetAsync($"/v1/leases/{id}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return false;
            }

            // Read after the 404 came: the lease had ended by then.
            var elapsed = sinceKeepAlive.Elapsed;
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.True(elapsed >= TimeSpan.FromSeconds(3), $"ended {elapsed.TotalSeconds:F2}s after the last keepalive was sent, before its 3 s TTL");
            return true;
        }, TimeSpan.FromSeconds(20), "the lease to end about 3 s after its last keepalive, whatever the wall clock says");
        Assert.Equal(HttpStatusCode.NotFound, (await http.KeepAliveAsync(id)).StatusCode);
    }
}
