using System.Net;
using System.Net.Http.Json;
using OrleansCompute.Tests.Faults.Harness;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.Faults;

/// <summary>
/// The two minority faults in which nothing but Orleans' votes used to declare the silo dead, so
/// that its keys were dark for about as long as the fault lasted (docs/reliability.md, defect 18):
/// a silo partitioned from its peers (it still renews its lease, and Orleans' votes wait out an
/// 8 s window), and a paused one (its kernel still accepts connections). The survivors now declare
/// it dead themselves (DeadSiloEviction's cut-off and unresponsive rules), every key is served
/// while the fault lasts, and the silo exits 75 once it learns it, for its supervisor to start it
/// again. Three silo processes, each in a network namespace of its own, as in the fault harness.
/// </summary>
public class MinorityFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    // Orleans' probes slowed to minutes, so that only DeadSiloEviction can declare the silo dead
    // within the test's deadline: its rule, not a race with Orleans' votes, is what is shown.
    private static readonly Dictionary<string, string> SlowVotes = new()
    {
        ["Orleans__Membership__ProbeTimeout"] = "00:00:10",
        ["Orleans__Membership__NumMissedProbesLimit"] = "30",
        ["Orleans__Membership__NumMissedTableIAmAliveLimit"] = "500",
    };

    private static readonly List<(string, string)> CutFromPeers =
        [.. new[] { "s1", "s2" }.SelectMany(peer => new[] { ("s0", peer), (peer, "s0") })];

    [Fact]
    public Task A_silo_cut_off_from_its_peers_only_is_declared_dead_by_the_majority_and_its_keys_are_served_again() =>
        FailOverAsync("CutOff", cluster => cluster.Network.Drop(CutFromPeers), cluster => cluster.Network.Undrop(CutFromPeers));

    [Fact]
    public Task A_paused_silo_is_declared_dead_as_unresponsive_and_its_keys_are_served_again() =>
        FailOverAsync("Unresponsive", cluster => cluster.Silo("s0").Signal(NodeProcess.SigStop), cluster => cluster.Silo("s0").Signal(NodeProcess.SigCont));

    private async Task FailOverAsync(string reason, Action<FaultCluster> inject, Action<FaultCluster> heal)
    {
        var directory = Path.Combine(Paths.Root, ".tmp", "test-logs", $"failover-{reason.ToLowerInvariant()}-{Guid.NewGuid():N}");
        await using var cluster = await FaultCluster.StartAsync(directory, output.WriteLine, SlowVotes);
        using var http = cluster.NewClient(TimeSpan.FromSeconds(10));
        const string table = "failover";
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsJsonAsync($"/v1/tables/{table}", new { shards = 6 })).StatusCode);
        var keys = Enumerable.Range(0, 24).Select(i => $"k{i}").ToList();
        foreach (var key in keys)
        {
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsJsonAsync($"/v1/tables/{table}/keys/{key}", key)).StatusCode);
        }

        inject(cluster);
        try
        {
            await WaitAsync(() => Task.FromResult(Declared(directory, reason)), $"a survivor to declare s0 dead ({reason})");
            await WaitAsync(async () => (await Task.WhenAll(keys.Select(key => StatusAsync(http, $"/v1/tables/{table}/keys/{key}")))).All(s => s == HttpStatusCode.OK),
                "every key to be served while the fault lasts");
        }
        finally
        {
            heal(cluster);
        }

        // s0 learns it was declared dead (its renewal is refused) and exits, and the supervisor starts it again.
        await WaitAsync(() => Task.FromResult(Restarted(cluster, "s0 exit 75")), "s0 to exit 75 and be started again");
        await cluster.WaitSiloReadyAsync("s0", Deadline);
        foreach (var key in keys)
        {
            Assert.Equal(key, await http.GetFromJsonAsync<string>($"/v1/tables/{table}/keys/{key}"));
        }
    }

    private static bool Declared(string directory, string reason) =>
        new[] { "s1", "s2" }.Any(silo => File.Exists(Path.Combine(directory, $"{silo}.log"))
                                         && ReadShared(Path.Combine(directory, $"{silo}.log")).Contains($"dead ({reason};", StringComparison.Ordinal));

    // The silo is still writing its log.
    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    private static bool Restarted(FaultCluster cluster, string restart)
    {
        lock (cluster.Restarts)
        {
            return cluster.Restarts.Contains(restart);
        }
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(path);
            return response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return HttpStatusCode.ServiceUnavailable;
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        while (!await condition())
        {
            if (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"Timed out after {Deadline.TotalSeconds} s waiting for {what}.");
            }

            // Polling, not sleeping out a time: the condition is what the test waits for.
            await Task.Delay(200, CancellationToken.None);
        }
    }
}
