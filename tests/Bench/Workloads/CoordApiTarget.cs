using System.Globalization;
using System.Text;

namespace OrleansCompute.Bench.Workloads;

/// <summary>
/// Coordination of the OrleansCompute Api (SPEC §4.4): <see cref="CoordWorkloads.Names"/> lock names
/// <c>bench-&lt;random&gt;/nNN</c>, each with a lease granted before the run and revoked on dispose.
/// </summary>
public sealed class CoordApiTarget : IHttpTarget
{
    private readonly LockSlots _slots;
    private readonly TextWriter _log;

    private CoordApiTarget(HttpClient client, LockSlots slots, IReadOnlyList<string> workloads, TextWriter log)
    {
        Client = client;
        _slots = slots;
        _log = log;
        var all = new IWorkload[] { new LockPair(slots), new LeaseKeepAlive(slots) };
        Workloads = all.Where(w => workloads.Contains(w.Name, StringComparer.Ordinal)).ToList();
    }

    public string Name => "coord";

    public HttpClient Client { get; }

    public bool UsesPostgres => true;

    public IReadOnlyList<IWorkload> Workloads { get; }

    public static async Task<CoordApiTarget> StartAsync(
        Uri api, string? apiKey, int concurrency, IReadOnlyList<string> workloads, TextWriter log, CancellationToken cancellationToken)
    {
        var client = BenchHttp.CreateClient(api, concurrency, apiKey);
        var prefix = $"bench-{Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()))[..8]}";
        var slots = new List<(string, string)>();
        try
        {
            for (var i = 0; i < CoordWorkloads.Names; i++)
            {
                using var granted = await client.PostAsync(
                    "/v1/leases", BenchHttp.Json(Encoding.UTF8.GetBytes($$"""{"ttlSeconds":{{CoordWorkloads.LeaseTtlSeconds}}}""")), cancellationToken);
                if (!granted.IsSuccessStatusCode)
                {
                    throw new BenchSkipException($"coord: granting a lease answered {await BenchHttp.DescribeFailureAsync(granted, cancellationToken)}");
                }

                var lease = CoordWorkloads.ReadProperty(await granted.Content.ReadAsByteArrayAsync(cancellationToken), "id");
                slots.Add((string.Create(CultureInfo.InvariantCulture, $"{prefix}/n{i:D2}"), lease));
            }
        }
        catch
        {
            await RevokeAllAsync(client, slots, log);
            client.Dispose();
            throw;
        }

        log.WriteLine($"coord: granted {slots.Count} leases for locks {prefix}/n00..n{slots.Count - 1:D2}");
        return new CoordApiTarget(client, new LockSlots(slots), workloads, log);
    }

    public async ValueTask DisposeAsync()
    {
        await RevokeAllAsync(Client, _slots.All, _log);
        Client.Dispose();
    }

    private static async Task RevokeAllAsync(HttpClient client, IReadOnlyList<(string Name, string Lease)> slots, TextWriter log)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var failed = 0;
        foreach (var (_, lease) in slots)
        {
            try
            {
                using var revoked = await client.DeleteAsync($"/v1/leases/{lease}", timeout.Token);
                failed += revoked.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                failed++;
            }
        }

        if (failed > 0)
        {
            log.WriteLine($"coord: {failed} of {slots.Count} leases could not be revoked; they end after {CoordWorkloads.LeaseTtlSeconds} s");
        }
    }

    /// <summary><c>POST /v1/locks/{name}</c> with <c>waitSeconds: 0</c>, then <c>DELETE /v1/locks/{name}?token=N</c>.</summary>
    private sealed class LockPair(LockSlots slots) : IWorkload
    {
        public string Name => CoordWorkloads.LockPair;

        public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
            slots.WithSlotAsync(random, async (name, lease) =>
            {
                string token;
                using (var acquire = new HttpRequestMessage(HttpMethod.Post, $"/v1/locks/{name}")
                {
                    Content = BenchHttp.Json(Encoding.UTF8.GetBytes($$"""{"lease":"{{lease}}","waitSeconds":0}""")),
                })
                using (var acquired = await client.SendAsync(acquire, cancellationToken))
                {
                    if (!acquired.IsSuccessStatusCode)
                    {
                        return (int)acquired.StatusCode;
                    }

                    token = CoordWorkloads.ReadProperty(await acquired.Content.ReadAsByteArrayAsync(cancellationToken), "token");
                }

                return await BenchHttp.SendAsync(client, new HttpRequestMessage(HttpMethod.Delete, $"/v1/locks/{name}?token={token}"), cancellationToken);
            });
    }

    /// <summary><c>POST /v1/leases/{id}/keepalive</c> of a random lease of the run.</summary>
    private sealed class LeaseKeepAlive(LockSlots slots) : IWorkload
    {
        public string Name => CoordWorkloads.LeaseKeepAlive;

        public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
            BenchHttp.SendAsync(
                client,
                new HttpRequestMessage(HttpMethod.Post, $"/v1/leases/{slots.All[random.Next(slots.All.Count)].Lease}/keepalive"),
                cancellationToken);
    }
}
