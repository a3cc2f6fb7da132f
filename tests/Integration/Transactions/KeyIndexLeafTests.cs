using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Transactions;

/// <summary>
/// A transactional table's key index splits into leaves as keys are created: with leaves of four
/// keys, a few dozen keys make many leaves, and scans, prefixes, pages and counts must still list
/// exactly the committed keys, in order, across leaf boundaries and after deletes.
/// </summary>
public sealed class KeyIndexLeafTests : IAsyncLifetime
{
    private PostgresCluster? _cluster;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _cluster = await PostgresCluster.StartAsync("keyindex", silos: 2, siloSettings: new Dictionary<string, string?>
        {
            ["Transactions:KeyIndex:LeafKeys"] = "4",
        });
        _http = await _cluster.Api.CreateReadyClientAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Scans_pages_and_counts_see_every_committed_key_across_leaf_splits()
    {
        var table = await _http.NewTransactionalTableAsync(shards: 1);
        var expected = new SortedSet<string>(StringComparer.Ordinal);
        // Ten keys per transaction: one commit overfills a leaf several times over, so it splits into many at once.
        var keys = Enumerable.Range(0, 40).Select(i => $"{(i % 2 == 0 ? "a" : "b")}/{i:D3}").ToList();
        foreach (var chunk in keys.Chunk(10))
        {
            await _http.TxnOkAsync(JsonSerializer.Serialize(new
            {
                success = chunk.Select(key => new { op = "put", table, key, value = key }),
            }));
            expected.UnionWith(chunk);
        }

        // Deletes empty some leaves and thin others.
        var deleted = keys.Where((_, i) => i % 3 == 0).ToList();
        foreach (var chunk in deleted.Chunk(7))
        {
            await _http.TxnOkAsync(JsonSerializer.Serialize(new
            {
                success = chunk.Select(key => new { op = "delete", table, key }),
            }));
            expected.ExceptWith(chunk);
        }

        Assert.Equal(expected, await ScanAllAsync(table, prefix: "", pageSize: 3));
        Assert.Equal(expected.Where(k => k.StartsWith("b/", StringComparison.Ordinal)), await ScanAllAsync(table, prefix: "b/", pageSize: 5));
        Assert.Equal(expected.Where(k => k.StartsWith("a/01", StringComparison.Ordinal)), await ScanAllAsync(table, prefix: "a/01", pageSize: 100));
        Assert.Empty(await ScanAllAsync(table, prefix: "c", pageSize: 10));

        var described = await _http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}");
        Assert.Equal(expected.Count, described.GetProperty("keyCount").GetInt64());
    }

    private async Task<List<string>> ScanAllAsync(string table, string prefix, int pageSize)
    {
        var found = new List<string>();
        string? after = null;
        do
        {
            var query = $"?prefix={Uri.EscapeDataString(prefix)}&limit={pageSize}" + (after is null ? "" : $"&after={after}");
            var page = await _http.ScanAsync(table, query);
            var items = page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("key").GetString()!).ToList();
            Assert.True(items.Count <= pageSize);
            found.AddRange(items);
            after = page.GetProperty("next").GetString();
        }
        while (after is not null);

        return found;
    }
}
