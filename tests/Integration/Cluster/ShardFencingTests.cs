using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// Two activations of one shard must never both acknowledge conflicting writes, nor may the stale
/// one answer reads. Two clusters on one database with different cluster ids each run their own
/// activation of the same shard, which is what Orleans can briefly do during a membership change.
/// The left silo then loses its silo lease (its renewals fail, as when it cannot reach the
/// database): the right activation takes over once that lease ran out, the epoch fence lets only
/// the newest commit, and the stale one neither writes nor answers reads, also after its lease
/// comes back.
/// </summary>
public class ShardFencingTests
{
    [Fact]
    public async Task A_second_activation_takes_over_and_the_stale_one_neither_writes_nor_reads()
    {
        var database = await TestDatabase.CreateAsync("fence");
        var leftFaults = new StoreFaults();
        await using var left = await PostgresCluster.StartAsync("fence", silos: 1, database, services: services =>
            services.AddSingleton<IKeyValueStore>(sp => new FaultyKeyValueStore(ActivatorUtilities.CreateInstance<PostgresKeyValueStore>(sp), leftFaults)));
        await using var right = await PostgresCluster.StartAsync("fence", silos: 1, database);
        var tableId = Guid.NewGuid();
        var shardKey = ShardMap.ShardKey("default", tableId, 0, 1);
        var leftShard = left.Silos[0].Grains.GetGrain<IShardGrain>(shardKey);
        var rightShard = right.Silos[0].Grains.GetGrain<IShardGrain>(shardKey);

        Assert.Equal(KvStatus.Created, (await leftShard.ExecuteAsync(Put("k", "1"))).Status);
        leftFaults.FailSiloLeaseRenewals = true;
        // The right cluster's activation opens the shard: it waits out the left silo's lease, takes the next epoch, and sees the left's writes.
        Assert.Equal("1", Text((await rightShard.ExecuteAsync(Get("k"))).Value));
        Assert.Equal(KvStatus.Ok, (await rightShard.ExecuteAsync(Put("k", "2"))).Status);

        // The left activation is stale: it must not answer the old value. Whichever activation owns
        // the shard serves the two racing creates: exactly one wins.
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

        // The left silo's lease comes back after a lapse: its shard must first find out that it was
        // taken over, so it still answers nothing but the truth (or a retryable 503).
        leftFaults.FailSiloLeaseRenewals = false;
        for (var i = 0; i < 3; i++)
        {
            var late = await Outcome(leftShard.ExecuteAsync(Get("owner")));
            Assert.True(late.Error is ShardUnavailableException || Text(late.Result?.Value) == winner, $"the stale activation answered {Text(late.Result?.Value)}");
        }

        await Eventually.WaitAsync(async () =>
            (await Outcome(rightShard.ExecuteAsync(Get("owner")))).Result is { Status: KvStatus.Ok } read && Text(read.Value) == winner,
            TimeSpan.FromSeconds(30), "the owning cluster to read the winning create");
    }

    [Fact]
    public async Task The_store_hands_a_shard_over_only_when_its_holder_released_it_or_lost_its_silo_lease()
    {
        await using var cluster = await PostgresCluster.StartAsync("epoch", silos: 1);
        var store = cluster.Silos[0].Services.GetRequiredService<IKeyValueStore>();
        var tableId = Guid.NewGuid();
        var patience = TimeSpan.FromSeconds(5);
        var write = new RowWrite("k", "1"u8.ToArray(), 1, null);
        var (dying, longLived, other) = (Holder(), Holder(), Holder());
        Assert.True(await store.RenewSiloLeaseAsync(dying, TimeSpan.FromMinutes(1), CancellationToken.None));
        Assert.True(await store.RenewSiloLeaseAsync(longLived, TimeSpan.FromMinutes(1), CancellationToken.None));

        var first = await store.OpenShardAsync(tableId, 0, dying.Id, patience, CancellationToken.None);
        // A live holder keeps its shard: with no patience to wait out its lease, a takeover is refused.
        await Assert.ThrowsAsync<ShardFencedException>(() => store.OpenShardAsync(tableId, 0, longLived.Id, TimeSpan.Zero, CancellationToken.None));
        // The holder's last renewal gives it a short lease, which runs out: the takeover waits for that, then succeeds.
        Assert.True(await store.RenewSiloLeaseAsync(dying, TimeSpan.FromMilliseconds(300), CancellationToken.None));
        var second = await store.OpenShardAsync(tableId, 0, longLived.Id, patience, CancellationToken.None);

        var stale = await Assert.ThrowsAsync<ShardFencedException>(() => store.CommitAsync(tableId, 0, first.Epoch, [write], CancellationToken.None));
        Assert.False(await store.OwnsAsync(tableId, 0, first.Epoch, CancellationToken.None));
        await store.CommitAsync(tableId, 0, second.Epoch, [write], CancellationToken.None);
        Assert.True(await store.OwnsAsync(tableId, 0, second.Epoch, CancellationToken.None));
        await Assert.ThrowsAsync<ShardFencedException>(() => store.OpenShardAsync(tableId, 0, other.Id, TimeSpan.Zero, CancellationToken.None));
        // A released shard is free at once: no lease to wait out, so no patience is needed.
        await store.ReleaseShardAsync(tableId, 0, second.Epoch, CancellationToken.None);
        var third = await store.OpenShardAsync(tableId, 0, other.Id, TimeSpan.Zero, CancellationToken.None);
        await store.MarkDroppedAsync(tableId, 1, CancellationToken.None);
        var dropped = await Assert.ThrowsAsync<ShardFencedException>(() => store.CommitAsync(tableId, 0, third.Epoch, [write], CancellationToken.None));

        Assert.True(second.Epoch > first.Epoch && third.Epoch > second.Epoch);
        Assert.Equal(["k"], third.Rows.Select(r => r.Key));
        Assert.False(stale.TableDropped);
        Assert.True(dropped.TableDropped);
        Assert.True((await store.OpenShardAsync(tableId, 0, other.Id, patience, CancellationToken.None)).Dropped);
    }

    [Fact]
    public async Task A_silo_the_membership_records_dead_cannot_renew_its_lease()
    {
        await using var cluster = await PostgresCluster.StartAsync("voted", silos: 1);
        var store = cluster.Silos[0].Services.GetRequiredService<IKeyValueStore>();
        var holder = Holder();
        Assert.True(await store.RenewSiloLeaseAsync(holder, TimeSpan.FromSeconds(2), CancellationToken.None));

        await TestDatabase.ScalarAsync<int>(cluster.ConnectionString,
            "INSERT INTO oc_membership_version (deployment_id) VALUES (@cluster) RETURNING 1", ("cluster", holder.ClusterId));
        await TestDatabase.ScalarAsync<int>(cluster.ConnectionString, """
            INSERT INTO oc_membership (deployment_id, address, port, generation, silo_name, host_name, status, start_time, i_am_alive_time)
            VALUES (@cluster, @address, @port, @generation, 'voted-out', 'test', 6, now(), now())
            RETURNING 1
            """, ("cluster", holder.ClusterId), ("address", holder.Address), ("port", holder.Port), ("generation", holder.Generation));

        Assert.False(await store.RenewSiloLeaseAsync(holder, TimeSpan.FromSeconds(2), CancellationToken.None));
    }

    private static SiloLeaseHolder Holder()
    {
        var port = Random.Shared.Next(20_000, 60_000);
        var generation = Random.Shared.Next(1, int.MaxValue);
        return new SiloLeaseHolder($"127.0.0.1:{port}@{generation}", $"lease-{Guid.NewGuid():N}", "127.0.0.1", port, generation);
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
