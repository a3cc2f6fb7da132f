using System.Net;
using System.Net.Http.Json;
using OrleansCompute.Tests.Faults.Harness;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.Faults;

/// <summary>
/// A silo partitioned from its peers but not from PostgreSQL still renews its lease, so no lease
/// rule can declare it dead, and Orleans' votes come no sooner than its 8 s monitoring window; its
/// keys were dark all that time (docs/reliability.md, the fault matrix). The survivors now declare
/// it dead themselves once a majority of the cluster cannot connect to it (DeadSiloEviction's
/// cut-off rule), and it exits 75 for its supervisor to restart. Three silo processes, each in a
/// network namespace of its own, as in the fault harness.
/// </summary>
public class CutOffSiloTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_silo_cut_off_from_its_peers_only_is_declared_dead_by_the_majority_and_its_keys_are_served_again()
    {
        var directory = Path.Combine(Paths.Root, ".tmp", "test-logs", $"cutoff-{Guid.NewGuid():N}");
        await using var cluster = await FaultCluster.StartAsync(directory, output.WriteLine);
        using var http = cluster.NewClient(TimeSpan.FromSeconds(10));
        const string table = "cutoff";
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsJsonAsync($"/v1/tables/{table}", new { shards = 6 })).StatusCode);
        var keys = Enumerable.Range(0, 24).Select(i => $"k{i}").ToList();
        foreach (var key in keys)
        {
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsJsonAsync($"/v1/tables/{table}/keys/{key}", key)).StatusCode);
        }

        var cut = new[] { "s1", "s2" }.SelectMany(peer => new[] { ("s0", peer), (peer, "s0") }).ToList();
        cluster.Network.Drop(cut);
        try
        {
            await WaitAsync(() => Task.FromResult(DeclaredCutOff(directory)), "a survivor to declare s0 dead as cut off");
            await WaitAsync(async () => (await Task.WhenAll(keys.Select(key => StatusAsync(http, $"/v1/tables/{table}/keys/{key}")))).All(s => s == HttpStatusCode.OK),
                "every key to be served while s0 is still cut off");
        }
        finally
        {
            cluster.Network.Undrop(cut);
        }

        // s0 learns it was declared dead (its renewal is refused) and exits, and the supervisor starts it again.
        await WaitAsync(() => Task.FromResult(Restarted(cluster, "s0 exit 75")), "s0 to exit 75 and be started again");
        await cluster.WaitSiloReadyAsync("s0", Deadline);
        foreach (var key in keys)
        {
            Assert.Equal(key, await http.GetFromJsonAsync<string>($"/v1/tables/{table}/keys/{key}"));
        }
    }

    private static bool DeclaredCutOff(string directory) =>
        new[] { "s1", "s2" }.Any(silo => File.Exists(Path.Combine(directory, $"{silo}.log"))
                                         && ReadShared(Path.Combine(directory, $"{silo}.log")).Contains("dead (CutOff", StringComparison.Ordinal));

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
