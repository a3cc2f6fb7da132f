using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data;
using OrleansCompute.Grains.Data.Placement;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// A shard is held under its silo's lease, so a release that fails as the shard's activation ends
/// (the store down) left the shard held by a silo that lives on: no activation on another silo
/// could open it until that silo died (defect 16, docs/reliability.md; in the soak of seed
/// 20261206 a watch stream's shard stayed dark 45 s after PostgreSQL came back). Now the holding
/// silo retries the release until it lands (<see cref="UnreleasedShards"/>). In-process silos on
/// real PostgreSQL; the first one's store fails its releases on demand.
/// </summary>
public class ShardReleaseTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_shard_whose_release_failed_as_it_moved_to_a_joining_silo_opens_there_once_the_store_answers_again()
    {
        var leftFaults = new StoreFaults();
        await using var cluster = await PostgresCluster.StartAsync("release", silos: 1, services: services =>
            services.AddSingleton<IKeyValueStore>(sp => new FaultyKeyValueStore(ActivatorUtilities.CreateInstance<PostgresKeyValueStore>(sp), leftFaults)));
        var left = cluster.Silos[0];
        using var http = await cluster.Api.CreateReadyClientAsync();

        var table = Names.Table("release");
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{table}", Json("""{"shards": 4}"""))).StatusCode);
        var keys = Enumerable.Range(0, 16).Select(i => $"k{i}").ToList();
        foreach (var name in keys)
        {
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{table}/keys/{name}", Json($"\"{name}\""))).StatusCode);
        }

        // A second silo joins while the first cannot release: the shards the layout gives the new
        // silo move there, and their holds stay with the first silo, whose lease is live.
        leftFaults.FailShardReleases = true;
        await cluster.StartSilosAsync(1);
        var right = cluster.Silos[1];
        var info = (await left.Grains.GetGrain<ITableGrain>($"default/{table}").DescribeAsync())!;
        var shardKeys = Enumerable.Range(0, info.Shards).ToDictionary(shard => ShardMap.ShardKey("default", info, shard));
        string? moved = null;
        await Eventually.WaitAsync(() => Task.FromResult((moved = Hosted(right).FirstOrDefault(shardKeys.ContainsKey)) is not null), Deadline, "a shard to move to the joining silo");
        var key = keys.First(k => ShardMap.ShardOf(k, info.Shards) == shardKeys[moved!]);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync($"/v1/tables/{table}/keys/{key}")).StatusCode);
        Assert.True(left.Services.GetRequiredService<UnreleasedShards>().Count > 0);

        // The store answers the first silo again: its retry lets the shards go, and they open on the new silo.
        leftFaults.FailShardReleases = false;
        await Eventually.WaitAsync(async () => (await http.GetAsync($"/v1/tables/{table}/keys/{key}")).StatusCode == HttpStatusCode.OK, Deadline, "the moved shard to open on the joining silo");
        Assert.Equal($"\"{key}\"", await http.GetStringAsync($"/v1/tables/{table}/keys/{key}"));
        Assert.Contains(moved!, Hosted(right));
        await Eventually.WaitAsync(() => Task.FromResult(left.Services.GetRequiredService<UnreleasedShards>().Count == 0), Deadline, "every failed release to land");
    }

    private static ICollection<string> Hosted(InProcessSilo silo) => silo.Services.GetRequiredService<LocalShards>().Keys;
}
