using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Coordination;

/// <summary>
/// A released lock stays attached to its last holder's lease for a while, so that lease taking it
/// again is one statement (docs/coordination.md, "Locks"). These check that the shortcut keeps the
/// guarantees: higher tokens, no grant to an ended lease, a lease end still frees the lock, and a
/// detach on its way never lands after the same lease attached again.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public class StickyLockTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_lease_that_takes_its_lock_again_gets_higher_tokens_and_its_end_still_frees_the_lock()
    {
        var (lease, _) = await Http.GrantAsync(60);
        var name = CoordClient.LockName();
        var last = 0L;
        for (var i = 0; i < 5; i++)
        {
            var token = await Http.TokenAsync(name, lease);
            Assert.True(token > last, $"token {token} after {last}");
            Assert.Equal((lease, token), (await Http.LockAsync(name)).Holder);
            Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, token)).StatusCode);
            last = token;
        }

        var held = await Http.TokenAsync(name, lease);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/leases/{lease}")).StatusCode);

        await Eventually.WaitAsync(async () => (await Http.LockAsync(name)).Holder is null, TimeSpan.FromSeconds(30), "the revoked lease's lock to be free");
        var (next, _) = await Http.GrantAsync(60);
        Assert.True(await Http.TokenAsync(name, next) > held);
    }

    [Fact]
    public async Task A_released_lock_is_refused_to_its_last_lease_once_that_lease_ended()
    {
        var (lease, _) = await Http.GrantAsync(60);
        var name = CoordClient.LockName();
        var token = await Http.TokenAsync(name, lease);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, token)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/leases/{lease}")).StatusCode);

        var problem = await AssertProblemAsync(await Http.AcquireAsync(name, lease, 0), HttpStatusCode.NotFound);
        Assert.Equal("urn:orleans-compute:problem:lease-not-found", problem.GetProperty("type").GetString());
        Assert.Equal((null, 0), await Http.LockAsync(name));
    }

    [Fact]
    public async Task A_lock_whose_last_lease_is_being_detached_goes_to_the_next_lease_and_back_with_higher_tokens()
    {
        var (first, _) = await Http.GrantAsync(60);
        var (second, _) = await Http.GrantAsync(60);
        var name = CoordClient.LockName();
        var tokens = new List<long>();
        // Back and forth with no pause: each grant to the other lease starts the detach of the one before,
        // and the next grant to that one comes while the detach may still be on its way.
        for (var i = 0; i < 6; i++)
        {
            var lease = i % 2 == 0 ? first : second;
            var token = await Http.TokenAsync(name, lease);
            tokens.Add(token);
            Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, token)).StatusCode);
        }

        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());

        // The first lease holds it again: its item must be attached (not removed by a late detach), so its revoke frees it.
        var held = await Http.TokenAsync(name, first);
        Assert.Equal([name], (await Http.GetFromJsonAsync<JsonElement>($"/v1/leases/{first}")).GetProperty("locks").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/leases/{first}")).StatusCode);
        await Eventually.WaitAsync(async () => (await Http.LockAsync(name)).Holder is null, TimeSpan.FromSeconds(30), "the revoked lease's lock to be free");
        Assert.True(await Http.TokenAsync(name, second) > held);
    }

    [Fact]
    public async Task A_released_lock_leaves_its_lease_list_once_it_stayed_free()
    {
        var (lease, _) = await Http.GrantAsync(60);
        var name = CoordClient.LockName();
        var token = await Http.TokenAsync(name, lease);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.ReleaseAsync(name, token)).StatusCode);

        await Eventually.WaitAsync(
            async () => (await Http.GetFromJsonAsync<JsonElement>($"/v1/leases/{lease}")).GetProperty("locks").GetArrayLength() == 0,
            TimeSpan.FromSeconds(30),
            "the released lock to leave its lease's list");
        Assert.Equal(token + 1, await Http.TokenAsync(name, lease));
    }
}
