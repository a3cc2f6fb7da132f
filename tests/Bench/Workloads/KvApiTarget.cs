using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace OrleansCompute.Bench.Workloads;

/// <summary>
/// The OrleansCompute Api's key-value store (SPEC §4.1): a fresh table <c>bench-&lt;random&gt;</c>
/// with 16 shards, keys k00000..k09999 written before any workload runs, dropped on dispose.
/// </summary>
public sealed class KvApiTarget : IHttpTarget
{
    private readonly Uri _tableUri;
    private readonly TextWriter _log;

    private KvApiTarget(HttpClient client, string table, IReadOnlyList<string> workloads, TextWriter log)
    {
        Client = client;
        Table = table;
        _log = log;
        _tableUri = new Uri(client.BaseAddress!, $"/v1/tables/{table}");
        var all = new IWorkload[] { new KvGetHot(_tableUri), new KvGetRandom(_tableUri), new KvPutRandom(_tableUri) };
        Workloads = all.Where(w => workloads.Contains(w.Name, StringComparer.Ordinal)).ToList();
    }

    public string Name => "kv";

    public string Table { get; }

    public HttpClient Client { get; }

    public bool UsesPostgres => true;

    public IReadOnlyList<IWorkload> Workloads { get; }

    public static Uri KeyUri(Uri table, string key) => new($"{table.AbsoluteUri}/keys/{Uri.EscapeDataString(key)}");

    /// <summary>
    /// Creates and fills the table. Throws <see cref="BenchSkipException"/> with what went wrong
    /// when the Api is unreachable, refuses the key, or lacks the key endpoints.
    /// </summary>
    public static async Task<KvApiTarget> StartAsync(
        Uri api, string? apiKey, int concurrency, IReadOnlyList<string> workloads, TextWriter log, CancellationToken cancellationToken)
    {
        var client = BenchHttp.CreateClient(api, concurrency, apiKey);
        var table = $"bench-{Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()))[..8]}";
        var target = new KvApiTarget(client, table, workloads, log);
        try
        {
            await target.CreateTableAsync(cancellationToken);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        try
        {
            await target.PreloadAsync(concurrency, cancellationToken);
            return target;
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => new(BenchHttp.DropTableAndDisposeAsync(Client, _tableUri, Table, _log, "kv"));

    private async Task CreateTableAsync(CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await Client.PutAsync(_tableUri, BenchHttp.Json("""{"shards":16}"""u8.ToArray()), cancellationToken);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            throw new BenchSkipException($"kv: cannot reach the Api at {Client.BaseAddress} ({e.Message})");
        }
        catch (HttpRequestException e)
        {
            throw new BenchSkipException($"kv: PUT {_tableUri.AbsolutePath} failed: {e.Message}");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var why = await BenchHttp.DescribeFailureAsync(response, cancellationToken);
                var hint = (int)response.StatusCode is 401 or 403 ? " (pass --api-key KEY)" : "";
                throw new BenchSkipException($"kv: creating table {Table} failed: PUT {_tableUri.AbsolutePath} answered {why}{hint}");
            }
        }

        _log.WriteLine($"kv: created table {Table} (16 shards)");
    }

    private async Task PreloadAsync(int concurrency, CancellationToken cancellationToken)
    {
        // One key first: if the key endpoints are missing, say so once instead of 10,000 times.
        await PutPreloadedAsync(0, cancellationToken);
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(
            Enumerable.Range(1, SampleData.PreloadedKeyCount - 1),
            new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
            async (i, ct) => await PutPreloadedAsync(i, ct));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        _log.WriteLine($"kv: pre-loaded {SampleData.PreloadedKeyCount:N0} keys in {seconds:0.0} s");
    }

    private async Task PutPreloadedAsync(int index, CancellationToken cancellationToken)
    {
        var key = SampleData.PreloadedKey(index);
        var uri = KeyUri(_tableUri, key);
        using var response = await Client.PutAsync(uri, BenchHttp.Json(SampleData.Value(index)), cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var why = await BenchHttp.DescribeFailureAsync(response, cancellationToken);
        var message = new StringBuilder($"kv: PUT {uri.AbsolutePath} answered {why}");
        if ((int)response.StatusCode is 404 or 405)
        {
            message.Append(" -- the key endpoints of SPEC §4.1 (PUT/GET /v1/tables/{table}/keys/{key}) are not in this Api build");
        }

        throw new BenchSkipException(message.ToString());
    }
}
