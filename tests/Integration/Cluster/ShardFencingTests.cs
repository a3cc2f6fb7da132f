using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// Two activations of one shard must never both acknowledge conflicting writes, nor may the stale
/// one answer reads. Two clusters on one database with different cluster ids each run their own
/// activation of the same shard, which is what Orleans can briefly do during a membership change:
/// the lease makes the newer one wait for the older one's lease to run out, the epoch fence lets
/// only the newest commit, and the stale one steps down instead of answering.
/// </summary>
public class ShardFencingTests
{
    private static readonly Dictionary<string, string?> ShortLease = new() { ["KeyValue:LeaseDuration"] = "00:00:02" };

    [Fact]
    public async Task A_second_activation_takes_over_and_the_stale_one_neither_writes_nor_reads()
    {
        var database = await TestDatabase.CreateAsync("fence");
        await using var left = await PostgresCluster.StartAsync("fence", silos: 1, database, ShortLease);
        await using var right = await PostgresCluster.StartAsync("fence", silos: 1, database, ShortLease);
        var tableId = Guid.NewGuid();
        var shardKey = ShardMap.ShardKey("default", tableId, 0);
        var leftShard = left.Silos[0].Grains.GetGrain<IShardGrain>(shardKey);
        var rightShard = right.Silos[0].Grains.GetGrain<IShardGrain>(shardKey);

        Assert.Equal(KvStatus.Created, (await leftShard.ExecuteAsync(Put("k", "1"))).Status);
        // The right cluster's activation opens the shard: it waits out the left's lease, takes the next epoch, and sees the left's writes.
        Assert.Equal("1", Text((await rightShard.ExecuteAsync(Get("k"))).Value));
        Assert.Equal(KvStatus.Ok, (await rightShard.ExecuteAsync(Put("k", "2"))).Status);

        // The left activation is stale: it must not answer the old value. It steps down instead, and
        // whichever activation then owns the shard serves the two racing creates: exactly one wins.
        var staleRead = await Outcome(leftShard.ExecuteAsync(Get("k")));
        var leftWrite = await Outcome(leftShard.ExecuteAsync(new KvOp(KvOpKind.Put, "owner", "\"left\""u8.ToArray(), IfAbsent: true)));
        var rightWrite = await Outcome(rightShard.ExecuteAsync(new KvOp(KvOpKind.Put, "owner", "\"right\""u8.ToArray(), IfAbsent: true)));

        Assert.True(staleRead.Error is ShardUnavailableException || Text(staleRead.Result?.Value) == "2", $"stale read answered {Text(staleRead.Result?.Value)}");
        var winners = new[] { ("\"left\"", leftWrite), ("\"right\"", rightWrite) }.Where(w => w.Item2.Result?.Status == KvStatus.Created).ToList();
        var winner = Assert.Single(winners).Item1;
        Assert.All(new[] { leftWrite, rightWrite }.Where(w => w.Result?.Status != KvStatus.Created), loser =>
            Assert.True(loser.Error is ShardUnavailableException { OutcomeUnknown: false } || loser.Result?.Status == KvStatus.PreconditionFailed));
        Assert.Equal(winner, await TestDatabase.ScalarAsync<string>(database,
            "SELECT convert_from(value, 'UTF8') FROM oc_kv WHERE table_id = @table AND key = 'owner'", ("table", tableId)));

        // Both sides converge on the truth once the shard settles on one activation.
        foreach (var shard in new[] { leftShard, rightShard })
        {
            await Eventually.WaitAsync(async () =>
                (await Outcome(shard.ExecuteAsync(Get("owner")))).Result is { Status: KvStatus.Ok } read && Text(read.Value) == winner,
                TimeSpan.FromSeconds(30), "every cluster to read the winning create");
        }
    }

    [Fact]
    public async Task The_store_makes_a_takeover_wait_for_the_lease_and_refuses_the_older_epoch_and_dropped_tables()
    {
        await using var cluster = await PostgresCluster.StartAsync("epoch", silos: 1);
        var store = cluster.Silos[0].Services.GetRequiredService<IKeyValueStore>();
        var tableId = Guid.NewGuid();
        var lease = TimeSpan.FromMilliseconds(800);
        var write = new RowWrite("k", "1"u8.ToArray(), 1, null);

        var first = await store.OpenShardAsync(tableId, 0, lease, CancellationToken.None);
        var clock = Stopwatch.StartNew();
        var second = await store.OpenShardAsync(tableId, 0, lease, CancellationToken.None);
        var waited = clock.Elapsed;

        var stale = await Assert.ThrowsAsync<ShardFencedException>(() => store.CommitAsync(tableId, 0, first.Epoch, lease, [write], CancellationToken.None));
        Assert.False(await store.RenewLeaseAsync(tableId, 0, first.Epoch, lease, CancellationToken.None));
        await store.CommitAsync(tableId, 0, second.Epoch, lease, [write], CancellationToken.None);
        Assert.True(await store.RenewLeaseAsync(tableId, 0, second.Epoch, lease, CancellationToken.None));
        await store.ReleaseLeaseAsync(tableId, 0, second.Epoch, CancellationToken.None);
        clock.Restart();
        var third = await store.OpenShardAsync(tableId, 0, lease, CancellationToken.None);
        var afterRelease = clock.Elapsed;
        await store.MarkDroppedAsync(tableId, 1, CancellationToken.None);
        var dropped = await Assert.ThrowsAsync<ShardFencedException>(() => store.CommitAsync(tableId, 0, third.Epoch, lease, [write], CancellationToken.None));

        Assert.True(waited >= TimeSpan.FromMilliseconds(500), $"the takeover waited only {waited}");
        Assert.True(afterRelease < TimeSpan.FromMilliseconds(500), $"a released lease still made the takeover wait {afterRelease}");
        Assert.True(second.Epoch > first.Epoch && third.Epoch > second.Epoch);
        Assert.Equal(["k"], third.Rows.Select(r => r.Key));
        Assert.False(stale.TableDropped);
        Assert.True(dropped.TableDropped);
        Assert.True((await store.OpenShardAsync(tableId, 0, lease, CancellationToken.None)).Dropped);
    }

    private static KvOp Get(string key) => new(KvOpKind.Get, key);

    private static KvOp Put(string key, string json) => new(KvOpKind.Put, key, Encoding.UTF8.GetBytes(json));

    private static string? Text(byte[]? value) => value is null ? null : Encoding.UTF8.GetString(value);

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
