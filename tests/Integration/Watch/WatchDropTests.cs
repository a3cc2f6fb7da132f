using System.Net;
using OrleansCompute.Tests.Infrastructure;
using OrleansCompute.Tests.Transactions;

namespace OrleansCompute.Tests.Watch;

/// <summary>
/// A drop ends the table's open streams with <c>event: dropped</c>, for plain and for transactional
/// tables alike, and a watch on the dropped table is 404 (docs/coordination.md, "Watch").
/// </summary>
[Collection(SharedClusterCollection.Name)]
public class WatchDropTests(SharedClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Dropping_a_plain_table_ends_its_stream_with_dropped_and_a_new_watch_is_404()
    {
        var table = await WatchApiTests.NewTableAsync(Http, shards: 2);
        await AssertDropEndsTheStreamAsync(table, () => WatchApiTests.PutAsync(Http, table, "k", "1"));
    }

    [Fact]
    public async Task Dropping_a_transactional_table_ends_its_stream_with_dropped_and_a_new_watch_is_404()
    {
        var table = await Http.NewTransactionalTableAsync(shards: 3);
        await AssertDropEndsTheStreamAsync(table, () => Http.PutAsync(table, "k", "1"));
    }

    // A change first, so the stream is known to be live and past its open when the drop lands.
    private async Task AssertDropEndsTheStreamAsync(string table, Func<Task> change)
    {
        var (reader, status) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch");
        Assert.Equal(200, status);
        await using (reader)
        {
            await change();
            await WatchApiTests.WaitForAsync(reader, 1, Deadline);
            Assert.False(reader.Ended);

            Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{table}")).StatusCode);
            await Eventually.WaitAsync(() => Task.FromResult(reader.Ended), Deadline, $"the stream on {table} to end after the drop");
            var events = reader.Events.ToList();
            Assert.Equal("dropped", events[^1].Type);
            Assert.Contains(table, events[^1].Data.GetProperty("detail").GetString());
            Assert.Single(events, e => e.IsChange);
        }

        var (again, againStatus) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch");
        await using (again)
        {
            Assert.Equal(404, againStatus);
            Assert.EndsWith("not-found", again.Problem.GetProperty("type").GetString());
        }
    }
}
