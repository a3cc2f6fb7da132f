using System.Net;
using OrleansCompute.Data;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Transactions;

/// <summary>
/// SPEC §4.1's drop, for a transactional table: it goes with all its keys, which for such a table
/// are participants' states and the shards' watch feeds, not key-value rows. Against two silos on
/// PostgreSQL, the purge as it runs in the silos.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public class TxnDropTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Dropping_a_transactional_table_purges_its_states_and_feeds_and_nothing_of_another_table()
    {
        var dropped = await Http.NewTransactionalTableAsync();
        var kept = await Http.NewTransactionalTableAsync();
        foreach (var table in new[] { dropped, kept })
        {
            for (var i = 0; i < 12; i++)
            {
                await Http.PutAsync(table, $"k{i}", $"{i}");
            }

            await Http.TxnOkAsync($$"""{"success":[{"op":"put","table":"{{table}}","key":"a","value":1},{"op":"put","table":"{{table}}","key":"b","value":2}]}""");
            // A key that was only read has a row too (a load fences, docs/transactions.md).
            Assert.Null(await Http.ValueAsync(table, "never-written"));
        }

        var droppedId = await TableIdAsync(dropped);
        var keptId = await TableIdAsync(kept);
        var keptStates = await StateRowsAsync(keptId);
        var keptFeeds = await FeedRowsAsync(keptId);
        Assert.True(await StateRowsAsync(droppedId) >= 15, "the table's keys, index and leaves have rows before the drop");
        Assert.True(await FeedRowsAsync(droppedId) > 0, "the table's shards have watch feeds before the drop");

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{dropped}")).StatusCode);
        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{dropped}/keys/k1"), HttpStatusCode.NotFound);

        await Eventually.WaitAsync(async () => await StateRowsAsync(droppedId) == 0 && await FeedRowsAsync(droppedId) == 0,
            TimeSpan.FromSeconds(60), "the dropped table's transactional states and feeds to be purged");
        Assert.Equal(keptStates, await StateRowsAsync(keptId));
        Assert.Equal(keptFeeds, await FeedRowsAsync(keptId));
        Assert.Equal("5", await Http.ValueAsync(kept, "k5"));
        Assert.Equal("2", await Http.ValueAsync(kept, "b"));
    }

    private async Task<Guid> TableIdAsync(string table) =>
        (await fixture.Cluster.Silos[0].Grains.GetGrain<ITableGrain>($"default/{table}").DescribeAsync())!.Id;

    // Every participant of the table (key, index and leaf grains) names its incarnation in its grain id.
    private Task<long> StateRowsAsync(Guid tableId) => TestDatabase.ScalarAsync<long>(fixture.Cluster.ConnectionString,
        "SELECT count(*) FROM oc_txn_state WHERE grain_id LIKE '%/' || @hex || '/%'", ("hex", tableId.ToString("N")));

    private Task<long> FeedRowsAsync(Guid tableId) => TestDatabase.ScalarAsync<long>(fixture.Cluster.ConnectionString,
        "SELECT count(*) FROM oc_txn_feed WHERE table_id = @table", ("table", tableId));
}
