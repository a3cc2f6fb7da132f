using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// Two activations of one shard must never both acknowledge conflicting writes. Two clusters on
/// one database with different cluster ids each run their own activation of the same shard,
/// which is exactly what Orleans can briefly do during a membership change: the store's epoch
/// fence lets only the newest commit, and the stale one steps down.
/// </summary>
public class ShardFencingTests
{
    [Fact]
    public async Task A_second_activation_fences_off_the_first_and_no_conflicting_writes_are_both_acknowledged()
    {
        var database = await TestDatabase.CreateAsync("fence");
        await using var left = await PostgresCluster.StartAsync("fence", silos: 1, database);
        await using var right = await PostgresCluster.StartAsync("fence", silos: 1, database);
        var tableId = Guid.NewGuid();
        var shardKey = ShardMap.ShardKey("default", tableId, 0);
        var leftShard = left.Silos[0].Grains.GetGrain<IShardGrain>(shardKey);
        var rightShard = right.Silos[0].Grains.GetGrain<IShardGrain>(shardKey);

        Assert.Equal(KvStatus.Created, (await leftShard.ExecuteAsync(new KvOp(KvOpKind.Put, "before", "1"u8.ToArray()))).Status);
        // The right cluster's activation opens the shard now: it takes the next epoch and sees the left's writes.
        Assert.Equal(KvStatus.Ok, (await rightShard.ExecuteAsync(new KvOp(KvOpKind.Get, "before"))).Status);

        // Both try to create the same key. The left activation is stale: its commit is fenced and not applied.
        var leftWrite = await Outcome(leftShard.ExecuteAsync(new KvOp(KvOpKind.Put, "owner", "\"left\""u8.ToArray(), IfAbsent: true)));
        var rightWrite = await Outcome(rightShard.ExecuteAsync(new KvOp(KvOpKind.Put, "owner", "\"right\""u8.ToArray(), IfAbsent: true)));

        Assert.IsType<ShardUnavailableException>(leftWrite.Error);
        Assert.False(((ShardUnavailableException)leftWrite.Error!).OutcomeUnknown);
        Assert.Equal(KvStatus.Created, rightWrite.Result!.Status);
        Assert.Equal("\"right\"", await TestDatabase.ScalarAsync<string>(database,
            "SELECT convert_from(value, 'UTF8') FROM oc_kv WHERE table_id = @table AND key = 'owner'", ("table", tableId)));

        // The stale activation stepped down; the next call reloads, takes the shard back, and sees the truth.
        await Eventually.WaitAsync(async () =>
            (await Outcome(leftShard.ExecuteAsync(new KvOp(KvOpKind.Get, "owner")))).Result is { Status: KvStatus.Ok },
            TimeSpan.FromSeconds(30), "the left cluster to reactivate the shard");
        var seen = await leftShard.ExecuteAsync(new KvOp(KvOpKind.Get, "owner"));
        Assert.Equal("\"right\"", System.Text.Encoding.UTF8.GetString(seen.Value!));
    }

    [Fact]
    public async Task The_store_refuses_commits_of_an_older_epoch_and_of_a_dropped_table()
    {
        await using var cluster = await PostgresCluster.StartAsync("epoch", silos: 1);
        var store = cluster.Silos[0].Services.GetRequiredService<IKeyValueStore>();
        var tableId = Guid.NewGuid();

        var first = await store.OpenShardAsync(tableId, 0, CancellationToken.None);
        var second = await store.OpenShardAsync(tableId, 0, CancellationToken.None);
        var write = new RowWrite("k", "1"u8.ToArray(), 1, null);

        var stale = await Assert.ThrowsAsync<ShardFencedException>(() => store.CommitAsync(tableId, 0, first.Epoch, [write], CancellationToken.None));
        await store.CommitAsync(tableId, 0, second.Epoch, [write], CancellationToken.None);
        await store.MarkDroppedAsync(tableId, 1, CancellationToken.None);
        var dropped = await Assert.ThrowsAsync<ShardFencedException>(() => store.CommitAsync(tableId, 0, second.Epoch, [write], CancellationToken.None));

        Assert.True(second.Epoch > first.Epoch);
        Assert.False(stale.TableDropped);
        Assert.True(dropped.TableDropped);
        Assert.True((await store.OpenShardAsync(tableId, 0, CancellationToken.None)).Dropped);
    }

    private static async Task<(KvResult? Result, Exception? Error)> Outcome(Task<KvResult> call)
    {
        try
        {
            return (await call, null);
        }
        catch (Exception ex)
        {
            return (null, ex);
        }
    }
}
