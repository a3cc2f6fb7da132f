using System.Diagnostics;
using System.Text;
using System.Text.Json;
using OrleansCompute.Bench.Workloads;

namespace OrleansCompute.Bench.Baselines;

/// <summary>
/// etcd (SPEC §6 anchor, the reference for a durable, linearizable KV store): a single-member
/// etcd on free loopback ports with a temporary data dir, measured through its v3 JSON gateway.
/// Runs only when an <c>etcd</c> binary is on PATH (Debian: etcd-server; tests/Bench/run.sh installs it as root).
/// </summary>
public sealed class EtcdBaseline : IHttpTarget
{
    public const string NotInstalled = "etcd: not installed (apt-get install etcd-server)";

    private readonly Process _process;
    private readonly string _directory;
    private readonly string _apiPrefix;

    private EtcdBaseline(Process process, string directory, HttpClient client, string apiPrefix, string version)
    {
        _process = process;
        _directory = directory;
        _apiPrefix = apiPrefix;
        Client = client;
        Version = version;
        var baseUri = client.BaseAddress!;
        Workloads = [new RangeHot(new Uri(baseUri, $"{apiPrefix}/kv/range")), new PutRandom(new Uri(baseUri, $"{apiPrefix}/kv/put"))];
    }

    public string Name => "etcd";

    public string Version { get; }

    public HttpClient Client { get; }

    public bool UsesPostgres => false;

    public IReadOnlyDictionary<string, int> Processes => new Dictionary<string, int> { ["etcd"] = _process.Id };

    public IReadOnlyList<IWorkload> Workloads { get; private set; }

    public static async Task<EtcdBaseline> StartAsync(int concurrency, TextWriter log, CancellationToken cancellationToken)
    {
        var binary = Executables.Find("etcd") ?? throw new BenchSkipException(NotInstalled);
        var directory = Directory.CreateTempSubdirectory("oc-bench-etcd.").FullName;
        var clientUrl = $"http://127.0.0.1:{Executables.FreeLoopbackPort()}";
        var peerUrl = $"http://127.0.0.1:{Executables.FreeLoopbackPort()}";
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[
            "--name", "bench", "--data-dir", Path.Combine(directory, "data"),
            "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
            "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
            "--initial-cluster", $"bench={peerUrl}", "--initial-cluster-state", "new"])
        {
            start.ArgumentList.Add(arg);
        }

        var logPath = Path.Combine(directory, "etcd.log");
        var logWriter = TextWriter.Synchronized(new StreamWriter(logPath) { AutoFlush = true });
        var process = Process.Start(start) ?? throw new BenchSkipException("etcd: could not start the process");
        process.OutputDataReceived += (_, e) => Append(logWriter, e.Data);
        process.ErrorDataReceived += (_, e) => Append(logWriter, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.Exited += (_, _) => logWriter.Dispose();
        process.EnableRaisingEvents = true;

        var client = BenchHttp.CreateClient(new Uri(clientUrl), concurrency);
        try
        {
            var version = await WaitReadyAsync(process, client, logPath, cancellationToken);
            // The JSON gateway moved from /v3alpha (3.2) and /v3beta (3.3) to /v3 (3.4+).
            var prefix = version.StartsWith("3.2.", StringComparison.Ordinal) ? "/v3alpha"
                : version.StartsWith("3.3.", StringComparison.Ordinal) ? "/v3beta"
                : "/v3";
            var etcd = new EtcdBaseline(process, directory, client, prefix, version);
            log.WriteLine($"etcd: {version} on {clientUrl} (data in {directory})");
            await etcd.PutAsync(SampleData.HotKey, SampleData.Value(42), cancellationToken);
            await etcd.AddCoordinationWorkloadsAsync(cancellationToken);
            return etcd;
        }
        catch
        {
            client.Dispose();
            Stop(process);
            TryDelete(directory);
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        Client.Dispose();
        Stop(_process);
        TryDelete(_directory);
        return ValueTask.CompletedTask;
    }

    internal static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private async Task PutAsync(string key, byte[] value, CancellationToken cancellationToken)
    {
        var put = (PutRandom)Workloads[1];
        using var response = await Client.PostAsync(put.Uri, BenchHttp.Json(PutRandom.Body(Base64(key), Convert.ToBase64String(value))), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new BenchSkipException($"etcd: put {key} answered {await BenchHttp.DescribeFailureAsync(response, cancellationToken)}");
        }
    }

    /// <summary>
    /// The lock and keepalive workloads, over the same number of names, each with a lease of its
    /// own, as the Api's (<see cref="CoordApiTarget"/>): granted here, gone with the data dir.
    /// </summary>
    private async Task AddCoordinationWorkloadsAsync(CancellationToken cancellationToken)
    {
        var slots = new List<(string, string)>();
        for (var i = 0; i < CoordWorkloads.Names; i++)
        {
            using var granted = await Client.PostAsync(
                $"{_apiPrefix}/lease/grant", BenchHttp.Json(Encoding.UTF8.GetBytes($$"""{"TTL":{{CoordWorkloads.LeaseTtlSeconds}}}""")), cancellationToken);
            if (!granted.IsSuccessStatusCode)
            {
                throw new BenchSkipException($"etcd: lease grant answered {await BenchHttp.DescribeFailureAsync(granted, cancellationToken)}");
            }

            var lease = CoordWorkloads.ReadProperty(await granted.Content.ReadAsByteArrayAsync(cancellationToken), "ID");
            slots.Add((Base64(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"bench/n{i:D2}")), lease));
        }

        var lockSlots = new LockSlots(slots);
        var baseUri = Client.BaseAddress!;
        Workloads = [.. Workloads,
            new LockPair(new Uri(baseUri, $"{_apiPrefix}/lock/lock"), new Uri(baseUri, $"{_apiPrefix}/lock/unlock"), lockSlots),
            new LeaseKeepAlive(new Uri(baseUri, $"{_apiPrefix}/lease/keepalive"), lockSlots)];
    }

    private static async Task<string> WaitReadyAsync(Process process, HttpClient client, string logPath, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new BenchSkipException($"etcd: exited with code {process.ExitCode} at start; its log: {Tail(logPath)}");
            }

            try
            {
                using var health = await client.GetAsync("/health", cancellationToken);
                if (health.IsSuccessStatusCode)
                {
                    using var version = await client.GetAsync("/version", cancellationToken);
                    using var json = JsonDocument.Parse(await version.Content.ReadAsStringAsync(cancellationToken));
                    return json.RootElement.GetProperty("etcdserver").GetString() ?? "unknown";
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new BenchSkipException($"etcd: not healthy after 30 s; its log: {Tail(logPath)}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private static void Append(TextWriter writer, string? line)
    {
        if (line is null)
        {
            return;
        }

        try
        {
            writer.WriteLine(line);
        }
        catch (ObjectDisposedException)
        {
            // The process exited and its log was closed.
        }
    }

    private static string Tail(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join(" | ", lines.TakeLast(5));
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                // A throwaway member with a throwaway data dir: no need for a graceful stop.
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            process.Dispose();
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Left in the temp dir; harmless.
        }
    }

    /// <summary><c>POST /v3/kv/range {"key": base64("k00042")}</c>: a linearizable read of one hot key.</summary>
    private sealed class RangeHot(Uri uri) : IWorkload
    {
        private readonly byte[] _body = Encoding.UTF8.GetBytes($$"""{"key":"{{Base64(SampleData.HotKey)}}"}""");

        public string Name => "range-hot";

        public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
            BenchHttp.SendJsonAsync(client, HttpMethod.Post, uri, _body, cancellationToken);
    }

    /// <summary><c>POST /v3/kv/put</c> of the same values as kv-put-random to a random p-key.</summary>
    private sealed class PutRandom(Uri uri) : IWorkload
    {
        private readonly string[] _keys = Enumerable.Range(0, SampleData.PutKeyCount).Select(i => Base64(SampleData.PutKey(i))).ToArray();

        public Uri Uri => uri;

        public string Name => "put-random";

        public static byte[] Body(string base64Key, string base64Value) =>
            Encoding.UTF8.GetBytes($$"""{"key":"{{base64Key}}","value":"{{base64Value}}"}""");

        public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
            BenchHttp.SendJsonAsync(
                client,
                HttpMethod.Post,
                uri,
                Body(_keys[random.Next(_keys.Length)], Convert.ToBase64String(SampleData.RandomValue(random))),
                cancellationToken);
    }

    /// <summary>
    /// <c>POST /v3/lock/lock {"name", "lease"}</c>, then <c>POST /v3/lock/unlock {"key"}</c> with the
    /// ownership key it answered: etcd's own lock service, the pair the Api's lock-pair is held against.
    /// </summary>
    private sealed class LockPair(Uri lockUri, Uri unlockUri, LockSlots slots) : IWorkload
    {
        public string Name => CoordWorkloads.LockPair;

        public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
            slots.WithSlotAsync(random, async (name, lease) =>
            {
                string key;
                using (var locked = await client.PostAsync(lockUri, BenchHttp.Json(Encoding.UTF8.GetBytes($$"""{"name":"{{name}}","lease":"{{lease}}"}""")), cancellationToken))
                {
                    if (!locked.IsSuccessStatusCode)
                    {
                        return (int)locked.StatusCode;
                    }

                    key = CoordWorkloads.ReadProperty(await locked.Content.ReadAsByteArrayAsync(cancellationToken), "key");
                }

                return await BenchHttp.SendJsonAsync(client, HttpMethod.Post, unlockUri, Encoding.UTF8.GetBytes($$"""{"key":"{{key}}"}"""), cancellationToken);
            });
    }

    /// <summary><c>POST /v3/lease/keepalive {"ID"}</c> of a random lease of the run: one message on the gateway's stream.</summary>
    private sealed class LeaseKeepAlive(Uri uri, LockSlots slots) : IWorkload
    {
        public string Name => CoordWorkloads.LeaseKeepAlive;

        public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken) =>
            BenchHttp.SendJsonAsync(
                client, HttpMethod.Post, uri, Encoding.UTF8.GetBytes($$"""{"ID":"{{slots.All[random.Next(slots.All.Count)].Lease}}"}"""), cancellationToken);
    }
}
