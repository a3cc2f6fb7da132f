using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Data;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>
/// A sharded table with a few dozen keys for the silo-fault tests, and where those keys live: which
/// of them a silo hosts, and whether every one of them is served.
/// </summary>
public sealed class ShardedKeys
{
    public const int Shards = 12;

    private ShardedKeys(string table, List<string> keys)
    {
        Table = table;
        Keys = keys;
    }

    public string Table { get; }

    public List<string> Keys { get; }

    /// <summary>Creates the table and puts 60 keys, each holding its own name.</summary>
    public static async Task<ShardedKeys> CreateAsync(HttpClient http, string prefix)
    {
        var table = Names.Table(prefix);
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{table}", Json($$"""{"shards": {{Shards}}}"""))).StatusCode);
        var keys = Enumerable.Range(0, 60).Select(i => $"k{i}").ToList();
        foreach (var key in keys)
        {
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/tables/{table}/keys/{key}", Json($"\"{key}\""))).StatusCode);
        }

        return new ShardedKeys(table, keys);
    }

    /// <summary>The keys whose shard the silo's active generation hosts; waits until it hosts at least one.</summary>
    public async Task<List<string>> HostedByAsync(HttpClient http, SiloNode silo)
    {
        var found = new List<string>();
        await Eventually.WaitAsync(async () =>
        {
            var cluster = await http.GetFromJsonAsync<JsonElement>("/v1/cluster");
            var address = cluster.GetProperty("silos").EnumerateArray()
                .Where(s => s.GetProperty("name").GetString() == silo.Name && s.GetProperty("status").GetString() == "Active")
                .Select(s => s.GetProperty("address").GetString())
                .LastOrDefault();
            var shards = await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{Table}/shards");
            var hosted = shards.GetProperty("items").EnumerateArray()
                .Where(s => address is not null && s.GetProperty("silo").GetString() == address)
                .Select(s => s.GetProperty("shard").GetInt32())
                .ToHashSet();
            found = [.. Keys.Where(k => hosted.Contains(ShardMap.ShardOf(k, Shards)))];
            return found.Count > 0;
        }, TimeSpan.FromSeconds(90), $"{silo.Name} to host a shard");
        return found;
    }

    /// <summary>Whether every one of <paramref name="keys"/> (all of them by default) answers 200 now.</summary>
    public async Task<bool> AllServedAsync(HttpClient http, IEnumerable<string>? keys = null)
    {
        foreach (var key in keys ?? Keys)
        {
            if ((await http.GetAsync($"/v1/tables/{Table}/keys/{key}")).StatusCode != HttpStatusCode.OK)
            {
                return false;
            }
        }

        return true;
    }
}
