using System.Net;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using OrleansCompute.Tests.Transactions;

namespace OrleansCompute.Tests.Watch;

/// <summary>Watch on transactional tables (issue #14): the change log their commits write, on the shared two-silo PostgreSQL cluster.</summary>
[Collection(SharedClusterCollection.Name)]
public class TxnWatchTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_watch_on_a_transactional_table_sees_every_committed_change_once_in_per_key_order()
    {
        var table = await Http.NewTransactionalTableAsync(shards: 2);
        var (reader, status) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?prefix=k/");
        Assert.Equal(200, status);
        await using (reader)
        {
            // One transaction writing three keys, then concurrent increments of the same keys: they
            // conflict, retry and commit one at a time per key. On a starved machine an increment may
            // run out of retries (409, nothing applied) or end unknown (503); the settled values say
            // how many applied, and the stream must show exactly those.
            await Http.TxnOkAsync($$"""{"success": [{"op": "put", "table": "{{table}}", "key": "k/a", "value": 0}, {"op": "put", "table": "{{table}}", "key": "k/b", "value": 0}, {"op": "put", "table": "{{table}}", "key": "other", "value": 0}]}""");
            var increments = Enumerable.Range(0, 24).Select(i => Http.TxnAsync(
                $$"""{"success": [{"op": "add", "table": "{{table}}", "key": "k/{{(i % 2 == 0 ? "a" : "b")}}", "value": 1}]}"""));
            var answers = await Task.WhenAll(increments);
            Assert.All(answers, a => Assert.True(a.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict or HttpStatusCode.ServiceUnavailable, $"{a.StatusCode}"));
            Assert.Contains(answers, a => a.StatusCode == HttpStatusCode.OK);
            var appliedA = int.Parse((await Http.SettledValueAsync(table, "k/a"))!);
            var appliedB = int.Parse((await Http.SettledValueAsync(table, "k/b"))!);
            int Acknowledged(int parity) => answers.Where((a, i) => i % 2 == parity && a.StatusCode == HttpStatusCode.OK).Count();
            Assert.InRange(appliedA, Acknowledged(0), 12);
            Assert.InRange(appliedB, Acknowledged(1), 12);

            Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{table}/keys/k/b")).StatusCode);
            await WatchApiTests.WaitForAsync(reader, 2 + appliedA + appliedB + 1);

            var changes = reader.Changes;
            Assert.DoesNotContain(changes, e => e.Key == "other");
            // k/a: the put, then each applied increment, once, in commit order.
            Assert.Equal(Enumerable.Range(1, appliedA + 1).Select(v => (long)v), changes.Where(e => e.Key == "k/a").Select(e => e.Version));
            Assert.Equal(Enumerable.Range(0, appliedA + 1).Select(v => v.ToString()), changes.Where(e => e.Key == "k/a").Select(e => e.Data.GetProperty("value").GetRawText()));
            var b = changes.Where(e => e.Key == "k/b").ToList();
            Assert.Equal(Enumerable.Range(1, appliedB + 1).Select(v => (long)v), b.SkipLast(1).Select(e => e.Version));
            Assert.Equal(("delete", JsonValueKind.Null), (b[^1].Type, b[^1].Data.GetProperty("value").ValueKind));
            AssertRevisionsIncreasePerShard(changes);
        }
    }

    [Fact]
    public async Task An_aborted_transaction_and_a_failed_compare_yield_no_event()
    {
        var table = await Http.NewTransactionalTableAsync(shards: 1);
        await Http.PutAsync(table, "text", "\"not a number\"");
        var (reader, _) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch");
        await using (reader)
        {
            // The put of "a" is staged, then the add on a string rejects the branch: the whole transaction aborts.
            var rejected = await Http.TxnAsync($$"""{"success": [{"op": "put", "table": "{{table}}", "key": "a", "value": 1}, {"op": "add", "table": "{{table}}", "key": "text", "value": 1}]}""");
            Assert.False(rejected.IsSuccessStatusCode, $"{(int)rejected.StatusCode}");
            // A compare that fails runs the failure branch, which only reads.
            var failed = await Http.TxnOkAsync($$"""{"compare": [{"table": "{{table}}", "key": "a", "target": "exists", "op": "==", "value": true}], "success": [{"op": "put", "table": "{{table}}", "key": "a", "value": 2}], "failure": [{"op": "get", "table": "{{table}}", "key": "a"}]}""");
            Assert.False(failed.GetProperty("succeeded").GetBoolean());
            // A put of an absent key's delete changes nothing either; then one real change marks the end.
            Assert.Equal(HttpStatusCode.NotFound, (await Http.DeleteAsync($"/v1/tables/{table}/keys/absent")).StatusCode);
            await Http.PutAsync(table, "marker", "1");

            await WatchApiTests.WaitForAsync(reader, 1);
            Assert.Null(await Http.SettledValueAsync(table, "a"));
            Assert.Equal([("put", "marker")], reader.Changes.Select(e => (e.Type, e.Key)));
        }
    }

    [Fact]
    public async Task A_resume_from_Last_Event_ID_repeats_nothing_and_misses_nothing_and_fromRevision_replays_the_history()
    {
        var table = await Http.NewTransactionalTableAsync(shards: 3);
        var (first, _) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch");
        await using (first)
        {
            for (var i = 0; i < 6; i++)
            {
                await Http.PutAsync(table, $"k{i}", $"{i}");
            }

            await WatchApiTests.WaitForAsync(first, 6);
        }

        // Written while no stream is open, read back by the resumed one.
        await Http.PutAsync(table, "k0", "10");
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{table}/keys/k1")).StatusCode);
        var (resumed, status) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch", first.LastId);
        Assert.Equal(200, status);
        await using (resumed)
        {
            await Http.PutAsync(table, "k2", "12");
            await WatchApiTests.WaitForAsync(resumed, 3);
            Assert.Equal([("put", "k0"), ("delete", "k1"), ("put", "k2")], resumed.Changes.Select(e => (e.Type, e.Key)).OrderBy(e => e.Key));
            Assert.Equal(2, resumed.Changes.Single(e => e.Key == "k0").Version);
        }

        var (replay, _) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?fromRevision=1");
        await using (replay)
        {
            await WatchApiTests.WaitForAsync(replay, 9);
            Assert.Equal(9, replay.Changes.Count);
            Assert.Equal(["put", "put"], replay.Changes.Where(e => e.Key == "k0").Select(e => e.Type));
            Assert.Equal(["put", "delete"], replay.Changes.Where(e => e.Key == "k1").Select(e => e.Type));
            AssertRevisionsIncreasePerShard(replay.Changes);
        }
    }

    // Revisions are per shard: each event's id is the cursor, one revision per shard. From one
    // event to the next no shard's revision goes back, and the event's own shard moves up to the
    // event's revision. Other shards may move too: a change the prefix filters out moves its
    // shard's cursor without an event.
    internal static void AssertRevisionsIncreasePerShard(IReadOnlyList<WatchEvent> changes)
    {
        static long[] Vector(WatchEvent e) => [.. e.Id!.Split('.')[1..].Select(long.Parse)];
        for (var i = 1; i < changes.Count; i++)
        {
            var (before, after) = (Vector(changes[i - 1]), Vector(changes[i]));
            var forward = Enumerable.Range(0, after.Length).All(s => after[s] >= before[s]);
            var own = Enumerable.Range(0, after.Length).Any(s => after[s] == changes[i].Revision && after[s] > before[s]);
            Assert.True(forward && own, $"{changes[i - 1].Id} then {changes[i].Id} (revision {changes[i].Revision})");
        }
    }
}
