namespace OrleansCompute.Bench.Workloads;

/// <summary><c>GET /v1/tables/{table}/keys/k00042</c> over and over: one hot key, one shard grain.</summary>
public sealed class KvGetHot(Uri table) : IWorkload
{
    private readonly Uri _uri = KvApiTarget.KeyUri(table, SampleData.HotKey);

    public string Name => "kv-get-hot";

    public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
        BenchHttp.GetAsync(client, _uri, cancellationToken);
}

/// <summary><c>GET</c> of a random pre-loaded key (k00000..k09999): spread over all shards.</summary>
public sealed class KvGetRandom(Uri table) : IWorkload
{
    private readonly Uri[] _uris = Enumerable.Range(0, SampleData.PreloadedKeyCount)
        .Select(i => KvApiTarget.KeyUri(table, SampleData.PreloadedKey(i)))
        .ToArray();

    public string Name => "kv-get-random";

    public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
        BenchHttp.GetAsync(client, _uris[random.Next(_uris.Length)], cancellationToken);
}

/// <summary><c>PUT</c> of a small JSON value to a random key among p000000..p099999: durable writes.</summary>
public sealed class KvPutRandom(Uri table) : IWorkload
{
    private readonly Uri[] _uris = Enumerable.Range(0, SampleData.PutKeyCount)
        .Select(i => KvApiTarget.KeyUri(table, SampleData.PutKey(i)))
        .ToArray();

    public string Name => "kv-put-random";

    public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
        BenchHttp.SendJsonAsync(client, HttpMethod.Put, _uris[random.Next(_uris.Length)], SampleData.RandomValue(random), cancellationToken);
}
