using System.Globalization;
using System.Net.Sockets;
using OrleansCompute.Bench.Workloads;
using OrleansCompute.Data;

namespace OrleansCompute.Bench.Elastic;

/// <summary>
/// The table of the <c>elastic</c> workload (issue #11): <c>elastic-&lt;random&gt;</c> with
/// <see cref="Shards"/> shards and <see cref="KeyCount"/> keys, the same number on every shard
/// (chosen with the Api's own key hash), all written before the load starts; dropped on dispose.
/// </summary>
public sealed class ElasticTarget : IHttpTarget
{
    public const int Shards = 16;

    /// <summary>Keys the load goes round; 8 per shard, and enough that a p99 over keys is not simply the maximum.</summary>
    public const int KeyCount = 128;

    private readonly TextWriter _log;

    private ElasticTarget(HttpClient client, string table, TextWriter log)
    {
        Client = client;
        Table = table;
        _log = log;
        TableUri = new Uri(client.BaseAddress!, $"/v1/tables/{table}");
        Keys = PickKeys();
        KeyUris = Keys.Select(k => KvApiTarget.KeyUri(TableUri, k)).ToArray();
        Workloads = [new ElasticMix(KeyUris)];
    }

    public string Name => "kv";

    public string Table { get; }

    public Uri TableUri { get; }

    public IReadOnlyList<string> Keys { get; }

    public IReadOnlyList<Uri> KeyUris { get; }

    public HttpClient Client { get; }

    public bool UsesPostgres => true;

    public IReadOnlyList<IWorkload> Workloads { get; }

    public ElasticMix Mix => (ElasticMix)Workloads[0];

    /// <summary>Creates the table and writes every key; <see cref="BenchSkipException"/> when the Api cannot.</summary>
    public static async Task<ElasticTarget> StartAsync(Uri api, string? apiKey, int connections, TextWriter log, CancellationToken cancellationToken)
    {
        var client = BenchHttp.CreateClient(api, connections, apiKey);
        var table = $"elastic-{Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()))[..8]}";
        var target = new ElasticTarget(client, table, log);
        HttpResponseMessage created;
        try
        {
            created = await client.PutAsync(target.TableUri, BenchHttp.Json(System.Text.Encoding.UTF8.GetBytes($$"""{"shards":{{Shards}}}""")), cancellationToken);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            client.Dispose();
            throw new BenchSkipException($"elastic: cannot reach the Api at {api} ({e.Message})");
        }

        using (created)
        {
            if (!created.IsSuccessStatusCode)
            {
                var why = await BenchHttp.DescribeFailureAsync(created, cancellationToken);
                client.Dispose();
                throw new BenchSkipException($"elastic: creating table {table} answered {why}");
            }
        }

        try
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(0, KeyCount),
                new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
                async (i, ct) =>
                {
                    using var put = await client.PutAsync(target.KeyUris[i], BenchHttp.Json(SampleData.Value(i)), ct);
                    if (!put.IsSuccessStatusCode)
                    {
                        throw new BenchSkipException($"elastic: PUT {target.KeyUris[i].AbsolutePath} answered {await BenchHttp.DescribeFailureAsync(put, ct)}");
                    }
                });
            log.WriteLine($"elastic: created table {table} ({Shards} shards) with {KeyCount} keys, {KeyCount / Shards} per shard");
            return target;
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => new(BenchHttp.DropTableAndDisposeAsync(Client, TableUri, Table, _log, "elastic"));

    // e00000, e00001, ... taken while their shard (of the table's 16) still has room: an even spread.
    private static string[] PickKeys()
    {
        var perShard = new int[Shards];
        var quota = (KeyCount + Shards - 1) / Shards;
        var keys = new List<string>(KeyCount);
        for (var i = 0; keys.Count < KeyCount; i++)
        {
            var key = string.Create(CultureInfo.InvariantCulture, $"e{i:D5}");
            var shard = ShardMap.ShardOf(key, Shards);
            if (perShard[shard] < quota)
            {
                perShard[shard]++;
                keys.Add(key);
            }
        }

        return [.. keys];
    }
}

/// <summary>
/// The closed-loop run of the <c>elastic</c> workload (its peak): PUT or GET, half each, of a
/// random key among the table's <see cref="ElasticTarget.KeyCount"/>.
/// </summary>
public sealed class ElasticMix(IReadOnlyList<Uri> keys) : IWorkload
{
    public string Name => "elastic-mix";

    public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
        Execute(client, keys[random.Next(keys.Count)], put: random.Next(2) == 0, random, cancellationToken);

    public static ValueTask<int> Execute(HttpClient client, Uri key, bool put, Random random, CancellationToken cancellationToken) => put
        ? BenchHttp.SendJsonAsync(client, HttpMethod.Put, key, SampleData.RandomValue(random), cancellationToken)
        : BenchHttp.GetAsync(client, key, cancellationToken);
}
