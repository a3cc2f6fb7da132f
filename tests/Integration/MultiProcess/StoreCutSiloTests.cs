using System.Diagnostics;
using System.Net;
using Npgsql;
using OrleansCompute.Silo.Health;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>
/// Failover of a silo cut off from PostgreSQL only (issue 15, docs/reliability.md): its peers still
/// reach it, so Orleans never votes it dead, and before <c>DeadSiloEviction</c>'s stranded rule its
/// keys were dark for as long as the cut lasted, although the store had freed its shards one lease
/// into the cut. Now its peers ask it, find that it cannot renew its lease while theirs held, and
/// declare it dead; its keys are served by the others while the cut goes on, and once the cut heals
/// it learns it was declared dead and exits for its supervisor to restart it.
/// The darkness is written to the output, never asserted.
/// </summary>
public class StoreCutSiloTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_silo_cut_off_from_the_store_only_is_declared_dead_its_keys_serve_during_the_cut_and_it_exits_once_it_heals()
    {
        await using var cluster = await ProcessCluster.StartAsync("storecut", silos: 2);
        await using var proxy = HoldingProxy.ForPostgres(cluster.Database);
        var behindProxy = new NpgsqlConnectionStringBuilder(cluster.Database) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;
        var victim = SiloNode.Start(new Dictionary<string, string>(cluster.Environment) { ["ConnectionStrings__Postgres"] = behindProxy });
        cluster.Silos.Add(victim);
        var http = cluster.NewClient();
        http.Timeout = TimeSpan.FromSeconds(20);
        try
        {
            await victim.WaitReadyAsync();
            var data = await ShardedKeys.CreateAsync(http, "storecut");
            var onVictim = await data.HostedByAsync(http, victim);
            output.WriteLine($"{onVictim.Count} of {data.Keys.Count} keys on {victim.Name}");

            // Everything the victim sends PostgreSQL from now on is held, and new connections fail; its peers still reach it.
            proxy.Hold();
            var cut = Stopwatch.StartNew();
            await Eventually.WaitAsync(async () => await victim.StatusAsync(http) == "Dead", TimeSpan.FromSeconds(60), $"{victim.Name} to be declared dead while cut off from the store");
            output.WriteLine($"declared dead {cut.Elapsed.TotalSeconds:F1} s into the cut");
            await Eventually.WaitAsync(async () => await data.AllServedAsync(http, onVictim), TimeSpan.FromSeconds(60), "the cut-off silo's keys to be served while the cut lasts");
            output.WriteLine($"its keys served again {cut.Elapsed.TotalSeconds:F1} s into the cut");
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsync($"/v1/tables/{data.Table}/keys/{onVictim[0]}", Json("\"during the cut\""))).StatusCode);

            // Healed, it finds itself declared dead (if Orleans' gossip has not told it already) and exits for its supervisor.
            await proxy.ReleaseAsync();
            Assert.True(await victim.Process.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"{victim.Name} went on running after it was declared dead:\n{victim.Process.Tail()}");
            Assert.Equal(DeclaredDeadExit.ExitCode, victim.Process.ExitCode);
            await Eventually.WaitAsync(async () => await data.AllServedAsync(http), TimeSpan.FromSeconds(60), "every key served after the silo exited");
            Assert.Equal("during the cut", (await http.GetStringAsync($"/v1/tables/{data.Table}/keys/{onVictim[0]}")).Trim('"'));
        }
        catch
        {
            cluster.WriteTails(output);
            throw;
        }
    }
}
