using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Coordination;
using OrleansCompute.Tenancy;
using OrleansCompute.Tests.Coordination;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>
/// SPEC §4.4 and §8 for leases and locks, with silos as separate processes on PostgreSQL: a
/// SIGKILL, a SIGSTOP (a long pause) and a full restart of every silo.
/// </summary>
public class CoordinationFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Locks_stay_exclusive_and_tokens_grow_across_a_sigkill_a_sigstop_and_a_full_restart()
    {
        // Four silos: with one dead and one paused, the two left are the two votes that declare the paused one dead.
        await using var run = await ProcessCluster.StartAsync("coordlock", silos: 4);
        try
        {
            var http = run.Http;
            var clock = Stopwatch.StartNew();
            var grants = new ConcurrentQueue<Grant>();
            using var stop = new CancellationTokenSource();
            var contenders = Enumerable.Range(0, 3).Select(i => ContendAsync(run.NewClient(), clock, grants, stop.Token)).ToList();

            async Task GrantsAsync(int more, string what)
            {
                var target = grants.Count + more;
                await Eventually.WaitAsync(() => Task.FromResult(grants.Count >= target), TimeSpan.FromSeconds(90), $"{more} grants {what}");
            }

            await GrantsAsync(10, "before the faults");
            var killedAt = clock.Elapsed;
            run.Silos[0].Process.Kill();
            await GrantsAsync(10, "after the SIGKILL");
            await Eventually.WaitAsync(async () => await run.Silos[0].StatusAsync(http) == "Dead", TimeSpan.FromSeconds(60), "the killed silo declared dead");
            var pausedAt = clock.Elapsed;
            run.Silos[1].Process.Pause();
            await GrantsAsync(10, "while a silo is paused");
            run.Silos[1].Process.Resume();
            await GrantsAsync(5, "after the paused silo went on");
            await stop.CancelAsync();
            await Task.WhenAll(contenders);
            output.WriteLine($"{grants.Count} grants; SIGKILL at {killedAt.TotalSeconds:F1}s, SIGSTOP at {pausedAt.TotalSeconds:F1}s, done at {clock.Elapsed.TotalSeconds:F1}s");

            // Tokens: unique, and growing in the order the grants were answered.
            var byAnswer = grants.OrderBy(g => g.AnsweredAt).ToList();
            Assert.Equal(byAnswer.Count, byAnswer.Select(g => g.Token).Distinct().Count());
            Assert.Equal(byAnswer.Select(g => g.Token).Order(), byAnswer.Select(g => g.Token));
            // One holder at a time: a grant is answered only after the holder before it was released.
            foreach (var (before, after) in byAnswer.Zip(byAnswer.Skip(1)))
            {
                if (before.ReleaseSentAt is { } sent && before.Released)
                {
                    Assert.True(sent < after.AnsweredAt, $"token {after.Token} granted at {after.AnsweredAt.TotalSeconds:F3}s, before token {before.Token} was released at {sent.TotalSeconds:F3}s");
                }
            }

            // Full restart: every silo goes, new ones come; the next token is still higher than all before.
            // The live ones stop with SIGTERM: a silo SIGKILLed with nobody left to vote it dead stays
            // Active in the membership, and new silos would wait for it before they join.
            foreach (var silo in run.Silos.Where(s => !s.Process.HasExited))
            {
                silo.Process.Terminate();
            }

            foreach (var silo in run.Silos)
            {
                Assert.True(await silo.Process.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"{silo.Name} did not stop");
            }

            await run.StartSilosAsync(2);
            var (lease, _) = await RetryAsync(() => http.GrantAsync(30));
            var afterRestart = await RetryAsync(() => http.TokenAsync("mutex", lease, waitSeconds: 60));
            output.WriteLine($"last token before the restart {byAnswer[^1].Token}, first after {afterRestart}");
            Assert.True(afterRestart > byAnswer.Max(g => g.Token));
            Assert.Equal(afterRestart, await TestDatabase.ScalarAsync<long>(run.Database, "SELECT last_token FROM oc_coord_lock WHERE name = 'mutex'"));
        }
        catch
        {
            run.WriteTails(output);
            throw;
        }
    }

    [Fact]
    public async Task A_lease_outlives_the_death_of_its_silo_and_ends_within_one_extra_ttl()
    {
        const int ttl = 30;
        // Three silos, so the two left are the two votes that declare the killed one dead.
        await using var run = await ProcessCluster.StartAsync("coordlease", silos: 3);
        try
        {
            var http = run.Http;
            // Placement is resource-optimized, not random: a burst of grants can all land on one silo.
            // So the silo killed is the one that hosts the most of them.
            var leases = new List<(string Id, Stopwatch SinceKeepAlive)>();
            for (var i = 0; i < 12; i++)
            {
                var (id, _) = await http.GrantAsync(ttl);
                // Started before the keepalive is sent: its answer, and so the TTL, comes later.
                var sinceKeepAlive = Stopwatch.StartNew();
                Assert.Equal(HttpStatusCode.OK, (await http.KeepAliveAsync(id)).StatusCode);
                leases.Add((id, sinceKeepAlive));
            }

            var hosts = new List<SiloNode?>();
            foreach (var (id, _) in leases)
            {
                hosts.Add(await run.HostOfAsync(run.Grains.GetGrain<ILeaseGrain>(TenantKey.For(TenantKey.DefaultTenant, id))));
            }

            var victim = run.Silos.MaxBy(s => hosts.Count(h => h == s))!;
            var onVictim = hosts.Count(h => h == victim);
            output.WriteLine($"{onVictim} of {leases.Count} leases live on {victim.Name}, which is killed");
            victim.Process.Kill();

            // Every lease answers again, still live, once the death is noticed.
            await Eventually.WaitAsync(async () =>
            {
                foreach (var (id, _) in leases)
                {
                    if ((await http.GetAsync($"/v1/leases/{id}")).StatusCode != HttpStatusCode.OK)
                    {
                        return false;
                    }
                }

                return true;
            }, TimeSpan.FromSeconds(ttl - 5), "every lease live after the SIGKILL");
            var takenOver = await TestDatabase.ScalarAsync<long>(run.Database, "SELECT count(*) FROM oc_coord_lease WHERE epoch >= 2");
            output.WriteLine($"{takenOver} of {leases.Count} leases were taken over by a surviving silo");
            // Every lease of the killed silo came back with a new epoch; others may have moved too.
            Assert.InRange(takenOver, onVictim, leases.Count);

            var ends = new ConcurrentDictionary<string, TimeSpan>();
            await Eventually.WaitAsync(async () =>
            {
                foreach (var (id, since) in leases.Where(l => !ends.ContainsKey(l.Id)))
                {
                    var status = (await http.GetAsync($"/v1/leases/{id}")).StatusCode;
                    // Read after the answer came: the lease had ended by then.
                    var elapsed = since.Elapsed;
                    Assert.True(status is HttpStatusCode.OK or HttpStatusCode.NotFound, $"lease {id}: {status}");
                    if (status == HttpStatusCode.NotFound)
                    {
                        ends[id] = elapsed;
                    }
                }

                return ends.Count == leases.Count;
            }, TimeSpan.FromSeconds(4 * ttl), "every lease to end");

            output.WriteLine($"ended after the last keepalive: {string.Join(", ", ends.Values.Order().Select(e => $"{e.TotalSeconds:F1}s"))}");
            // Never sooner than the TTL; a failover adds at most half a TTL (the bound is one TTL), plus this poll's period.
            Assert.All(ends.Values, e => Assert.InRange(e, TimeSpan.FromSeconds(ttl), TimeSpan.FromSeconds(2 * ttl)));
            Assert.Equal(0, await TestDatabase.ScalarAsync<long>(run.Database, "SELECT count(*) FROM oc_coord_lease"));
        }
        catch
        {
            run.WriteTails(output);
            throw;
        }
    }

    /// <summary>One grant a contender saw: its token, when it was answered and when (and whether) it was released.</summary>
    private sealed record Grant(long Token, TimeSpan AnsweredAt, TimeSpan? ReleaseSentAt, bool Released);

    /// <summary>Acquires, holds briefly and releases, over and over, keeping its lease alive; faults are retried.</summary>
    private static async Task ContendAsync(HttpClient http, Stopwatch clock, ConcurrentQueue<Grant> grants, CancellationToken stop)
    {
        string? lease = null;
        using var keepAlive = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var keeper = Task.Run(async () =>
        {
            while (await Wait(keepAlive, stop))
            {
                if (Volatile.Read(ref lease) is { } id)
                {
                    try
                    {
                        if ((await http.KeepAliveAsync(id)).StatusCode == HttpStatusCode.NotFound)
                        {
                            Interlocked.CompareExchange(ref lease, null, id);
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        // A dropped call is retried on the next tick.
                    }
                }
            }
        });

        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (Volatile.Read(ref lease) is not { } id)
                {
                    var granted = await http.PostAsync("/v1/leases", CoordClient.Json("{\"ttlSeconds\": 8}"), CancellationToken.None);
                    if (granted.StatusCode == HttpStatusCode.Created)
                    {
                        Volatile.Write(ref lease, (await granted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
                    }

                    continue;
                }

                var acquire = await http.AcquireAsync("mutex", id, 20, CancellationToken.None);
                if (acquire.StatusCode == HttpStatusCode.Conflict)
                {
                    continue;
                }

                if (acquire.StatusCode != HttpStatusCode.OK)
                {
                    // Outcome unknown (a fault): the lease may hold the lock with a token never seen. Give it up, take a new one.
                    Volatile.Write(ref lease, null);
                    await http.DeleteAsync($"/v1/leases/{id}", CancellationToken.None);
                    continue;
                }

                var answeredAt = clock.Elapsed;
                var token = (await acquire.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetInt64();
                var sentAt = clock.Elapsed;
                var release = await http.ReleaseAsync("mutex", token);
                grants.Enqueue(new Grant(token, answeredAt, sentAt, release.StatusCode == HttpStatusCode.NoContent));
                if (release.StatusCode != HttpStatusCode.NoContent)
                {
                    // Not known to be released: revoking the lease frees the lock whatever happened.
                    Volatile.Write(ref lease, null);
                    await http.DeleteAsync($"/v1/leases/{id}", CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !stop.IsCancellationRequested)
            {
                // Retried: the loop asks again.
            }
        }

        await keeper;
    }

    private static async Task<bool> Wait(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        T result = default!;
        await Eventually.WaitAsync(async () =>
        {
            result = await call();
            return true;
        }, ReadyTimeout, "the restarted cluster to answer");
        return result;
    }
}
