using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Grains.Transactions.Storage;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Watch;

/// <summary>
/// The retention sweep takes the floor rows it raises (<c>oc_kv_shard</c>, <c>oc_txn_feed</c>) in
/// key order, as transactional commits take their feed rows, so the two never deadlock
/// (docs/coordination.md, "Transactional tables"). On a database of its own: the sweeps here take
/// every change in it, and the silo's own sweeper, at the default two-hour retention, takes none.
/// </summary>
public class ChangeLogSweepOrderTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private PostgresCluster? _cluster;

    private PostgresCluster Cluster => _cluster!;

    public async Task InitializeAsync() => _cluster = await PostgresCluster.StartAsync("sweep-order", silos: 1);

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    // Everything logged so far is older than this: the sweep takes all of it.
    private static DateTimeOffset Everything => DateTimeOffset.UtcNow.AddMinutes(1);

    [Theory]
    [InlineData("oc_kv_shard")]
    [InlineData("oc_txn_feed")]
    public async Task A_sweep_waiting_for_a_floor_row_a_commit_holds_holds_no_row_after_it_and_both_finish(string floors)
    {
        // Two shards of one table with changes to sweep. Their rows are written in reverse key
        // order, so a sweep that took rows in the order it finds them would take shard 1 first.
        var table = Guid.NewGuid();
        await TestDatabase.ExecuteAsync(Cluster.ConnectionString, $"""
            INSERT INTO {floors} (table_id, shard) VALUES (@table, 1);
            INSERT INTO {floors} (table_id, shard) VALUES (@table, 0);
            INSERT INTO oc_kv_change (table_id, shard, revision, key, value, version)
            VALUES (@table, 1, 1, 'b', NULL, 1), (@table, 1, 2, 'b', NULL, 2), (@table, 0, 1, 'a', NULL, 1);
            """, ("table", table));

        // A commit that has locked its first feed row (shard 0) and is about to lock the next.
        await using var commit = new NpgsqlConnection(Cluster.ConnectionString);
        await commit.OpenAsync();
        await using var transaction = await commit.BeginTransactionAsync();
        await ExecuteAsync(commit, transaction, $"SELECT 1 FROM {floors} WHERE table_id = @table AND shard = 0 FOR UPDATE", table);

        var store = Cluster.Silos[0].Services.GetRequiredService<IKeyValueStore>();
        var sweep = store.SweepChangesAsync(Everything, 1000, CancellationToken.None);
        await Eventually.WaitAsync(async () => sweep.IsCompleted || await WaitingForLocksAsync() > 0, Deadline, "the sweep to wait for shard 0's row");
        Assert.False(sweep.IsCompleted, "the sweep raised shard 0's floor while a commit held its row");

        // The commit's next row in key order is free: the sweep waits for shard 0 holding nothing
        // after it. (Taken out of order, shard 1 would be the sweep's, and this the deadlock.)
        await ExecuteAsync(commit, transaction, $"SELECT 1 FROM {floors} WHERE table_id = @table AND shard = 1 FOR UPDATE NOWAIT", table);
        await transaction.CommitAsync();

        Assert.Equal(3, await sweep.WaitAsync(Deadline));
        Assert.Equal(2L, await TestDatabase.ScalarAsync<long>(Cluster.ConnectionString,
            $"SELECT log_floor FROM {floors} WHERE table_id = @table AND shard = 1", ("table", table)));
        Assert.Equal(1L, await TestDatabase.ScalarAsync<long>(Cluster.ConnectionString,
            $"SELECT log_floor FROM {floors} WHERE table_id = @table AND shard = 0", ("table", table)));
    }

    [Fact]
    public async Task Sweeps_and_concurrent_transactional_commits_on_the_same_feeds_all_succeed_and_the_floors_end_at_the_heads()
    {
        var services = Cluster.Silos[0].Services;
        var store = services.GetRequiredService<IKeyValueStore>();
        var writer = services.GetRequiredService<TransactionalStateWriter>();
        var table = Guid.NewGuid();
        const int feeds = 4, rounds = 25, writesPerRound = 16;

        // Each round: writes to every feed, gathered by the writer's group commit into batches that
        // lock several feeds at once, racing two sweeps (two silos' worth) that raise those feeds' floors.
        for (var round = 0; round < rounds; round++)
        {
            var writes = Enumerable.Range(0, writesPerRound).Select(async i =>
            {
                var shard = i % feeds;
                var key = $"r{round}/k{i}";
                var watched = new WatchedKey("sweep-order", table, shard, key);
                var grainId = $"sweep-order/{table:N}/{key}";
                var loaded = await writer.LoadAsync(grainId, "state");
                return await writer.WriteAsync(grainId, "state", loaded.ETag, [1], watched, [new KeyChange(1, "1"u8.ToArray(), 1)]);
            });
            var sweeps = Enumerable.Range(0, 2).Select(_ => store.SweepChangesAsync(Everything, 1000, CancellationToken.None));
            await Task.WhenAll(Task.WhenAll(writes), Task.WhenAll(sweeps)).WaitAsync(Deadline);
        }

        // Once the last changes are swept, each feed's floor is its head: every change it logged.
        while (await store.SweepChangesAsync(Everything, 1000, CancellationToken.None) > 0)
        {
        }

        for (var shard = 0; shard < feeds; shard++)
        {
            var (revision, floor) = (await TestDatabase.ScalarAsync<long>(Cluster.ConnectionString,
                    "SELECT revision FROM oc_txn_feed WHERE table_id = @table AND shard = @shard", ("table", table), ("shard", shard)),
                await TestDatabase.ScalarAsync<long>(Cluster.ConnectionString,
                    "SELECT log_floor FROM oc_txn_feed WHERE table_id = @table AND shard = @shard", ("table", table), ("shard", shard)));
            Assert.Equal(rounds * writesPerRound / feeds, revision);
            Assert.Equal(revision, floor);
        }

        Assert.Equal(0L, await TestDatabase.ScalarAsync<long>(Cluster.ConnectionString,
            "SELECT count(*) FROM oc_kv_change WHERE table_id = @table", ("table", table)));
    }

    private async Task<long> WaitingForLocksAsync() => await TestDatabase.ScalarAsync<long>(Cluster.ConnectionString,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, Guid table)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddWithValue("table", table);
        await command.ExecuteNonQueryAsync();
    }
}
