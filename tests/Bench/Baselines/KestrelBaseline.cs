using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansCompute.Bench.Workloads;

namespace OrleansCompute.Bench.Baselines;

/// <summary>
/// The ceiling for any HTTP API on this machine (SPEC §6 anchor "Kestrel minimal API"): a minimal
/// API inside the harness on a free loopback port, values in a ConcurrentDictionary, no I/O.
/// </summary>
public sealed class KestrelBaseline : IHttpTarget
{
    private readonly WebApplication _app;

    private KestrelBaseline(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
        Workloads = [new GetHot(client.BaseAddress!), new PutRandom(client.BaseAddress!)];
    }

    public string Name => "kestrel";

    public HttpClient Client { get; }

    public bool UsesPostgres => false;

    public IReadOnlyList<IWorkload> Workloads { get; }

    public static async Task<KestrelBaseline> StartAsync(int concurrency, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();

        var store = new ConcurrentDictionary<string, byte[]>(StringComparer.Ordinal);
        for (var i = 0; i < SampleData.PreloadedKeyCount; i++)
        {
            store[SampleData.PreloadedKey(i)] = SampleData.Value(i);
        }

        app.MapGet("/v/{key}", (string key) => store.TryGetValue(key, out var value)
            ? Results.Bytes(value, "application/json")
            : Results.NotFound());
        app.MapPut("/v/{key}", async (string key, HttpRequest request, CancellationToken ct) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, ct);
            store[key] = body.ToArray();
            return Results.NoContent();
        });

        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new KestrelBaseline(app, BenchHttp.CreateClient(new Uri(address), concurrency));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary><c>GET /v/k00042</c>: the same hot key and value as kv-get-hot.</summary>
    private sealed class GetHot(Uri server) : IWorkload
    {
        private readonly Uri _uri = new(server, $"/v/{SampleData.HotKey}");

        public string Name => "get-hot";

        public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
            BenchHttp.GetAsync(client, _uri, cancellationToken);
    }

    /// <summary><c>PUT /v/p&lt;random&gt;</c> with the same values as kv-put-random, kept in memory.</summary>
    private sealed class PutRandom(Uri server) : IWorkload
    {
        private readonly Uri[] _uris = Enumerable.Range(0, SampleData.PutKeyCount)
            .Select(i => new Uri(server, $"/v/{SampleData.PutKey(i)}"))
            .ToArray();

        public string Name => "put-random";

        public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
            BenchHttp.SendJsonAsync(client, HttpMethod.Put, _uris[random.Next(_uris.Length)], SampleData.RandomValue(random), cancellationToken);
    }
}
