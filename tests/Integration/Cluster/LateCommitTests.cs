using System.Diagnostics;
using System.Net;
using Npgsql;
using OrleansCompute.Data;
using OrleansCompute.Deadlines;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// A write takes effect before its deadline or never (docs/reliability.md, "Bounded effects").
/// A shard commit can reach PostgreSQL long after the silo sent it and gave up on it: in a cut the
/// bytes wait in the silo's kernel, which retransmits them once the cut heals. The commit carries
/// its deadline, on the store's clock, and the store refuses it when it arrives past it. Real
/// PostgreSQL; the cut is a proxy that holds the bytes and delivers them after the client gave up.
/// The same holds for a call held on its way to the silo: its budget restarts on arrival, but the
/// deadline it carries on the store's clock does not.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class LateCommitTests(SharedClusterFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private HoldingProxy _proxy = null!;
    private NpgsqlDataSource _cutSource = null!;

    public Task InitializeAsync()
    {
        _proxy = HoldingProxy.ForPostgres(fixture.Cluster.ConnectionString);
        // The silo behind the cut gives up on its statement, here sooner than a silo's 5 s so the test is short.
        _cutSource = _proxy.DataSource(fixture.Cluster.ConnectionString, commandTimeoutSeconds: 2);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cutSource.DisposeAsync();
        await _proxy.DisposeAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_commit_delivered_after_its_deadline_applies_nothing(bool withDeadline)
    {
        var store = new PostgresKeyValueStore(_cutSource);
        var (tableId, shard) = await OpenShardAsync(store);

        _proxy.Hold();
        var deadline = withDeadline ? Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2 : 0;
        var commit = store.CommitAsync(tableId, 0, shard.Epoch, [new RowWrite("k", "1"u8.ToArray(), 1, null)], [], deadline, CancellationToken.None);
        await _proxy.HoldsBytes.WaitAsync(Deadline);
        // The silo gives up (its command timeout, past the deadline) and answers outcome unknown.
        await Assert.ThrowsAnyAsync<Exception>(() => commit.WaitAsync(Deadline));

        // The cut heals: the commit reaches PostgreSQL and is answered, to no one.
        await _proxy.ReleaseAsync();
        await _proxy.DeliveredLate.WaitAsync(Deadline);

        var rows = await TestDatabase.ScalarAsync<long>(fixture.Cluster.ConnectionString,
            "SELECT count(*) FROM oc_kv WHERE table_id = @table", ("table", tableId));
        // Without a deadline the late commit lands: the hazard the deadline closes is real.
        Assert.Equal(withDeadline ? 0 : 1, rows);
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(10, true)]
    public async Task A_call_whose_deadline_on_the_store_clock_passed_is_dropped_on_arrival_though_its_budget_is_fresh(int storeDeadlineSeconds, bool applied)
    {
        var table = Names.Table("late");
        Assert.Equal(HttpStatusCode.Created, (await fixture.Http.PutAsync($"/v1/tables/{table}",
            new StringContent("""{"shards": 2}""", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
        var info = (await fixture.Cluster.Silos[0].Grains.GetGrain<ITableGrain>($"default/{table}").DescribeAsync())!;
        var shard = fixture.Cluster.Silos[0].Grains.GetGrain<IShardGrain>(ShardMap.ShardKey("default", info, ShardMap.ShardOf("k", info.Shards)));
        var storeNow = (await TestDatabase.ScalarAsync<DateTime>(fixture.Cluster.ConnectionString, "SELECT clock_timestamp()")).ToUniversalTime();

        // What the Api sends: a fresh budget, as a held call gets again on arrival, and the deadline on the store's clock.
        Orleans.Runtime.RequestContext.Set(RequestDeadline.BudgetKey, 10_000L);
        Orleans.Runtime.RequestContext.Set(RequestDeadline.StoreDeadlineKey, storeNow.AddSeconds(storeDeadlineSeconds).Ticks);
        try
        {
            var put = shard.ExecuteAsync(new KvOp(KvOpKind.Put, "k", "1"u8.ToArray()));
            if (applied)
            {
                Assert.Equal(KvStatus.Created, (await put).Status);
            }
            else
            {
                await Assert.ThrowsAsync<DeadlineExceededException>(() => put);
            }
        }
        finally
        {
            Orleans.Runtime.RequestContext.Clear();
        }

        Assert.Equal(applied ? HttpStatusCode.OK : HttpStatusCode.NotFound,
            (await fixture.Http.GetAsync($"/v1/tables/{table}/keys/k")).StatusCode);
    }

    [Fact]
    public async Task A_commit_that_arrives_in_time_applies_and_one_past_its_deadline_is_refused_as_unapplied()
    {
        await using var direct = NpgsqlDataSource.Create(fixture.Cluster.ConnectionString);
        var store = new PostgresKeyValueStore(direct);
        var (tableId, shard) = await OpenShardAsync(store);

        await store.CommitAsync(tableId, 0, shard.Epoch, [new RowWrite("k", "1"u8.ToArray(), 1, null)], [],
            Stopwatch.GetTimestamp() + 5 * Stopwatch.Frequency, CancellationToken.None);
        // A deadline already past when the commit is sent stands for one whose bytes were held that long.
        await Assert.ThrowsAsync<DeadlineExceededException>(() => store.CommitAsync(tableId, 0, shard.Epoch,
            [new RowWrite("k", "2"u8.ToArray(), 2, null)], [], Stopwatch.GetTimestamp() - Stopwatch.Frequency, CancellationToken.None));

        Assert.Equal(1, await TestDatabase.ScalarAsync<long>(fixture.Cluster.ConnectionString,
            "SELECT version FROM oc_kv WHERE table_id = @table AND key = 'k'", ("table", tableId)));
    }

    // A shard of a new table, held under a silo lease whose renewal read the store's clock (which commits take their deadlines by).
    private static async Task<(Guid TableId, ShardSnapshot Shard)> OpenShardAsync(PostgresKeyValueStore store)
    {
        var holder = new SiloLeaseHolder($"late-{Guid.NewGuid():N}", "late", "127.0.0.1", 1, Random.Shared.Next(1, int.MaxValue));
        Assert.True(await store.RenewSiloLeaseAsync(holder, TimeSpan.FromMinutes(1), CancellationToken.None));
        var tableId = Guid.NewGuid();
        return (tableId, await store.OpenShardAsync(tableId, 0, holder.Id, TimeSpan.FromSeconds(5), CancellationToken.None));
    }
}
