using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Data;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>
/// SIGKILL and restart of one silo of three (issue 15, docs/reliability.md): the killed silo is
/// declared dead by the proof its lease and its endpoint give (<c>DeadSiloEviction</c>), its keys
/// are served again, and the silo restarted on the same ports joins as a new generation and takes
/// shards back. Orleans' own failure detection is slowed here to minutes, as it effectively was on
/// a CPU-starved machine, where a survivor counts a probe that timed out during its own thread-pool
/// stall as inconclusive: the fault harness measured a killed silo left Active for 13 s, its keys
/// dark all along. Before the eviction, this test never saw the killed silo declared dead.
/// The darkness is written to the output, never asserted.
/// </summary>
public class KilledSiloRestartTests(ITestOutputHelper output)
{
    // Probes would take minutes to declare the killed silo dead, and the IAmAlive rows hours.
    private static readonly Dictionary<string, string> SlowFailureDetection = new()
    {
        ["Orleans__Membership__ProbeTimeout"] = "00:00:10",
        ["Orleans__Membership__NumMissedProbesLimit"] = "30",
        ["Orleans__Membership__NumMissedTableIAmAliveLimit"] = "500",
    };

    [Fact]
    public async Task A_killed_silo_is_declared_dead_by_its_lapsed_lease_its_keys_serve_again_and_its_restart_takes_shards()
    {
        await using var cluster = await ProcessCluster.StartAsync("killrestart", silos: 3, SlowFailureDetection);
        var http = cluster.NewClient();
        http.Timeout = TimeSpan.FromSeconds(20);
        var victim = cluster.Silos[1];
        try
        {
            var data = await ShardedKeys.CreateAsync(http, "killrestart");
            var onVictim = await data.HostedByAsync(http, victim);
            output.WriteLine($"{onVictim.Count} of {data.Keys.Count} keys on {victim.Name}");

            victim.Process.Kill();
            var dark = Stopwatch.StartNew();
            await Eventually.WaitAsync(async () => await victim.StatusAsync(http) == "Dead", TimeSpan.FromSeconds(90), $"{victim.Name} to be declared dead");
            output.WriteLine($"declared dead {dark.Elapsed.TotalSeconds:F1} s after the kill");
            await Eventually.WaitAsync(async () => await data.AllServedAsync(http), TimeSpan.FromSeconds(60), "the killed silo's keys to be served again");
            output.WriteLine($"every key served again {dark.Elapsed.TotalSeconds:F1} s after the kill");
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsync($"/v1/tables/{data.Table}/keys/{onVictim[0]}", Json("\"after failover\""))).StatusCode);

            // The supervisor starts it again on the same ports: a newer generation at the same endpoint.
            var restarted = victim.Restart(cluster.Environment);
            cluster.Silos.Add(restarted);
            await restarted.WaitReadyAsync();
            var back = await data.HostedByAsync(http, restarted);
            output.WriteLine($"the restarted silo hosts {back.Count} keys' shards");
            await Eventually.WaitAsync(async () => await data.AllServedAsync(http), TimeSpan.FromSeconds(60), "every key served after the restart");
            var read = await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{data.Table}/keys/{onVictim[0]}");
            Assert.Equal("after failover", read.GetString());
        }
        catch
        {
            cluster.WriteTails(output);
            throw;
        }
    }
}
