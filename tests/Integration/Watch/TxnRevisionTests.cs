using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Orleans.Core.Internal;
using OrleansCompute.Data;
using OrleansCompute.Tests.Infrastructure;
using OrleansCompute.Tests.Transactions;
using OrleansCompute.Transactions;

namespace OrleansCompute.Tests.Watch;

/// <summary>
/// Revisions in the answers of transactional tables (issue #14): GET, scan, single-key writes and
/// txn results carry the revision of the key's last change, the same number the watch stream
/// shows for that change (a txn over several keys: those known at its commit), on the shared
/// two-silo PostgreSQL cluster.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public class TxnRevisionTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Get_scan_write_and_txn_answers_carry_the_revision_the_watch_shows_for_the_change()
    {
        // One shard: every key's revisions come from one feed and can be compared.
        var table = await Http.NewTransactionalTableAsync(shards: 1);
        var a1 = await PutRevisionAsync(table, "a", "1");
        // Two keys in one transaction: one of them commits through the transaction manager's
        // confirmation, after the answer left, which does not wait for it. The manager's change is
        // logged by the commit, so its revision is in the answer; the other's may be absent, and
        // the keys' GETs answer both.
        var pair = await Http.TxnOkAsync($$"""{"success": [{"op": "put", "table": "{{table}}", "key": "b", "value": 1}, {"op": "put", "table": "{{table}}", "key": "a", "value": 2}]}""");
        var (b1, a2) = (await GetRevisionAsync(table, "b"), await GetRevisionAsync(table, "a"));
        var pairAnswered = new[] { Revision(pair.Result(0)), Revision(pair.Result(1)) };
        Assert.Contains(pairAnswered, r => r > 0);
        Assert.All(pairAnswered.Zip([b1, a2]), p => Assert.True(p.First == 0 || p.First == p.Second, $"answered {p.First}, the key's GET {p.Second}"));
        var add = await Http.TxnOkAsync($$"""{"success": [{"op": "add", "table": "{{table}}", "key": "a", "value": 1}, {"op": "get", "table": "{{table}}", "key": "a"}]}""");
        var a3 = Revision(add.Result(0));
        Assert.Equal(a3, Revision(add.Result(1))); // a get after the write in the same transaction reads the write
        Assert.True(0 < a1 && a1 < a2 && a2 < a3 && b1 != a2 && b1 > a1, $"{a1} {b1} {a2} {a3}");

        Assert.Equal(a3, await GetRevisionAsync(table, "a"));
        Assert.Equal(b1, await GetRevisionAsync(table, "b"));
        var scan = await Http.ScanAsync(table);
        Assert.Equal(new Dictionary<string, long> { ["a"] = a3, ["b"] = b1 },
            scan.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("key").GetString()!, Revision));
        var read = await Http.TxnOkAsync($$"""{"success": [{"op": "get", "table": "{{table}}", "key": "b"}]}""");
        Assert.Equal(b1, Revision(read.Result(0)));

        var deleted = await Http.DeleteAsync($"/v1/tables/{table}/keys/b");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var bGone = long.Parse(deleted.Headers.GetValues("Revision").Single());
        Assert.True(bGone > a3, $"{bGone} after {a3}");

        // The watch shows each of those changes with the revision its answer gave.
        var (replay, status) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?fromRevision=1");
        Assert.Equal(200, status);
        await using (replay)
        {
            await WatchApiTests.WaitForAsync(replay, 5);
            // The two keys of one transaction commit in their own Stores: either may come first.
            (string, string, long, long)[] answered = [("put", "a", 1L, a1), ("put", "b", 1L, b1), ("put", "a", 2L, a2), ("put", "a", 3L, a3), ("delete", "b", 1L, bGone)];
            Assert.Equal(answered.OrderBy(e => e.Item4), replay.Changes.Select(e => (e.Type, e.Key, e.Version, e.Revision)).OrderBy(e => e.Revision));
        }
    }

    [Fact]
    public async Task A_client_that_read_revision_R_and_watches_from_R_plus_1_sees_exactly_the_later_changes()
    {
        var table = await Http.NewTransactionalTableAsync(shards: 2);
        await Http.PutAsync(table, "k", "1");
        await Http.PutAsync(table, "k", "2");
        var read = await GetRevisionAsync(table, "k");
        var shard = await ShardOfAsync(table, "k", read);

        var (reader, status) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?prefix=k&fromRevision={read + 1}");
        Assert.Equal(200, status);
        await using (reader)
        {
            var later = await PutRevisionAsync(table, "k", "3");
            await WatchApiTests.WaitForAsync(reader, 1);
            Assert.Equal([("k", 3L, later)], reader.Changes.Select(e => (e.Key, e.Version, e.Revision)));
            Assert.True(later > read, $"{later} after {read}");
            Assert.Equal(later, Vector(reader.Changes[0])[shard]);
        }
    }

    [Fact]
    public async Task Concurrent_increments_each_answer_the_revision_of_their_own_change()
    {
        // Orleans may commit several increments of one key in one Store: each still gets its own revision.
        var table = await Http.NewTransactionalTableAsync(shards: 1);
        await Http.PutAsync(table, "n", "0");
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
            Http.TxnAsync($$"""{"success": [{"op": "add", "table": "{{table}}", "key": "n", "value": 1}]}""")));
        var applied = new List<(long Version, long Revision)>();
        foreach (var answer in answers.Where(a => a.StatusCode == HttpStatusCode.OK))
        {
            var result = (await answer.Content.ReadFromJsonAsync<JsonElement>()).Result(0);
            applied.Add((result.GetProperty("version").GetInt64(), Revision(result)));
        }

        Assert.NotEmpty(applied);
        var final = long.Parse((await Http.SettledValueAsync(table, "n"))!);
        var (replay, _) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?fromRevision=1");
        await using (replay)
        {
            await WatchApiTests.WaitForAsync(replay, (int)final + 1);
            var events = replay.Changes.ToDictionary(e => e.Version, e => e.Revision);
            Assert.All(applied, a => Assert.Equal(events[a.Version], a.Revision));
            Assert.Equal(events[final + 1], await GetRevisionAsync(table, "n"));
        }
    }

    [Fact]
    public async Task A_key_whose_grain_was_deactivated_answers_the_revision_stored_with_its_state()
    {
        var table = await Http.NewTransactionalTableAsync(shards: 1);
        var written = await PutRevisionAsync(table, "k", "1");
        var grains = fixture.Cluster.Silos[0].Grains;
        var info = (await grains.GetGrain<ITableGrain>($"default/{table}").DescribeAsync())!;
        var grainKey = TxnKeys.KeyGrain("default", info, "k");

        Assert.Equal(written, await StoredRevisionAsync(grainKey));
        await grains.GetGrain<ITransactionalKeyGrain>(grainKey).AsReference<IGrainManagementExtension>().DeactivateOnIdle();

        Assert.Equal(written, await GetRevisionAsync(table, "k"));
        Assert.Equal(written, Revision((await Http.ScanAsync(table)).GetProperty("items")[0]));
    }

    private async Task<long> PutRevisionAsync(string table, string key, string json)
    {
        var response = await Http.PutAsync($"/v1/tables/{table}/keys/{key}", CoordClientJson(json));
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"put answered {response.StatusCode}");
        var revision = Revision(await response.Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal(revision.ToString(), response.Headers.GetValues("Revision").Single());
        return revision;
    }

    private async Task<long> GetRevisionAsync(string table, string key)
    {
        var response = await Http.GetAsync($"/v1/tables/{table}/keys/{key}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return long.Parse(response.Headers.GetValues("Revision").Single());
    }

    // The shard whose cursor entry a stream from fromRevision=1 moves to the key's revision.
    private async Task<int> ShardOfAsync(string table, string key, long revision)
    {
        var (replay, _) = await WatchReader.OpenAsync(Http, $"/v1/tables/{table}/watch?prefix={key}&fromRevision=1");
        await using (replay)
        {
            await WatchApiTests.WaitForAsync(replay, 2);
            var last = replay.Changes.Single(e => e.Revision == revision);
            return Array.IndexOf(Vector(last), revision);
        }
    }

    private async Task<long?> StoredRevisionAsync(string grainKey)
    {
        await using var connection = new NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT revision FROM oc_txn_state WHERE grain_id LIKE '%' || @key", connection);
        command.Parameters.AddWithValue("key", grainKey);
        return await command.ExecuteScalarAsync() is long revision ? revision : null;
    }

    private static long[] Vector(WatchEvent e) => [.. e.Id!.Split('.')[1..].Select(long.Parse)];

    private static long Revision(JsonElement item) =>
        item.TryGetProperty("revision", out var revision) ? revision.GetInt64() : 0;

    private static StringContent CoordClientJson(string json) => Coordination.CoordClient.Json(json);
}
