using System.Diagnostics;
using System.Net.Http.Headers;

namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>
/// PostgreSQL, three silos and the Api, each in its own namespace on the harness's bridge, run as
/// a deployment would run them (the built binaries, configured by environment only). The harness
/// and the workloads talk to the Api from the root namespace, over the bridge.
/// </summary>
public sealed class FaultCluster : IAsyncDisposable
{
    public const string AdminKey = "faults-admin-key-7d3e0b9c41a84f2e9b6c";
    private const int PgPort = 5432;
    private const int ApiPort = 5000;
    private const int HealthPort = 8081;

    private readonly Dictionary<string, NodeProcess> _silos = [];
    private readonly HashSet<string> _heldDown = [];
    private readonly CancellationTokenSource _stopSupervisor = new();
    private Task _supervisor = Task.CompletedTask;
    private readonly Action<string> _log;
    private NodeProcess? _postgres;
    private NodeProcess? _api;

    private readonly IReadOnlyDictionary<string, string> _siloSettings;

    private FaultCluster(Network network, string directory, Action<string> log, IReadOnlyDictionary<string, string>? siloSettings)
    {
        Network = network;
        Directory = directory;
        _log = log;
        _siloSettings = siloSettings ?? new Dictionary<string, string>();
    }

    public Network Network { get; }

    /// <summary>The run's folder: logs, PostgreSQL's data, the clock files, the histories.</summary>
    public string Directory { get; }

    public Uri ApiAddress => new($"http://{Network.Address("api")}:{ApiPort}");

    public string LibFaketime { get; private set; } = "";

    public NodeProcess Silo(string name)
    {
        lock (_silos)
        {
            return _silos[name];
        }
    }

    /// <summary>Silos the supervisor started again after they exited by themselves (a silo declared dead exits, branch bounded).</summary>
    public List<string> Restarts { get; } = [];

    /// <summary>The supervisor leaves this silo down (a kill whose restart is the fault's heal).</summary>
    public void HoldDown(string silo)
    {
        lock (_silos)
        {
            _heldDown.Add(silo);
        }
    }

    // Like a process supervisor (systemd, Kubernetes, deploy/local/up.sh): a silo that exits by
    // itself is started again at once, on the same address, so a silo that exits when it learns
    // it was declared dead (rather than rejoin) comes back as a deployment would bring it back.
    private async Task SuperviseAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(500, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            foreach (var silo in Network.Silos)
            {
                bool exited;
                lock (_silos)
                {
                    exited = !_heldDown.Contains(silo) && _silos[silo].HasExited;
                }

                if (exited)
                {
                    var code = _silos[silo].ExitCode;
                    _log($"supervisor: {silo} exited by itself (code {code}); starting it again");
                    lock (Restarts)
                    {
                        Restarts.Add($"{silo} exit {code}");
                    }

                    StartSilo(silo);
                }
            }
        }
    }

    /// <param name="siloSettings">Settings every silo gets on top of the harness's (a test may slow Orleans' own failure detection).</param>
    public static async Task<FaultCluster> StartAsync(string directory, Action<string> log, IReadOnlyDictionary<string, string>? siloSettings = null)
    {
        System.IO.Directory.CreateDirectory(directory);
        var network = Network.Create();
        var cluster = new FaultCluster(network, directory, log, siloSettings);
        try
        {
            log($"network slot {network.Slot}: pg {network.Address("pg")}, silos {string.Join(", ", Network.Silos.Select(network.Address))}, api {network.Address("api")}");
            cluster.LibFaketime = FindLibFaketime();
            await cluster.InitPostgresAsync();
            await cluster.StartPostgresAsync();
            foreach (var silo in Network.Silos)
            {
                cluster.SetClockSkew(silo, 0);
            }

            // One silo first: it applies the schema under its advisory lock; the others then join.
            foreach (var silo in Network.Silos)
            {
                cluster.StartSilo(silo);
            }

            // Supervised from the start: on a starved machine a joining silo can be declared dead
            // by the others and stop itself (seen: "I have been told I am dead" during start-up).
            cluster._supervisor = cluster.SuperviseAsync(cluster._stopSupervisor.Token);

            // The Api starts beside the silos, not after them: its client retries the gateways until
            // they accept it, and its own start-up (about 20 s on a loaded 2-core machine) overlaps theirs.
            cluster.StartApi();
            await Task.WhenAll(Network.Silos.Select(s => cluster.WaitSiloReadyAsync(s, TimeSpan.FromSeconds(300))));
            await cluster.WaitApiReadyAsync(TimeSpan.FromSeconds(240));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public HttpClient NewClient(TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(3), PooledConnectionLifetime = TimeSpan.FromMinutes(1) };
        var http = new HttpClient(handler) { BaseAddress = ApiAddress, Timeout = timeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return http;
    }

    // Under /tmp, not the run folder: the postgres user must reach it, and netns.sh removes it
    // with the slot's namespaces (also the leftovers of a crashed run).
    private string PgRoot => $"/tmp/ocf-slots/pg-{Network.Slot}";

    private string PgData => Path.Combine(PgRoot, "data");

    private string ConnectionString =>
        $"Host={Network.Address("pg")};Port={PgPort};Username=postgres;Database=orleans;Pooling=true;Maximum Pool Size=50";

    public static string FindLibFaketime()
    {
        foreach (var candidate in new[] { "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("libfaketime is not installed (apt-get install -y libfaketime; tests/run.sh and tests/Faults/run.sh do it as root).");
    }

    private static string PgBin()
    {
        var best = System.IO.Directory.Exists("/usr/lib/postgresql")
            ? System.IO.Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderBy(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0).LastOrDefault()
            : null;
        return best ?? throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install -y postgresql).");
    }

    private async Task InitPostgresAsync()
    {
        var pg = PgRoot;
        System.IO.Directory.CreateDirectory(PgData);
        System.IO.Directory.CreateDirectory(Path.Combine(pg, "sock"));
        await ExecAsync("chown", "-R", "postgres:postgres", pg);
        await ExecAsync("chmod", "700", PgData);
        await ExecAsync("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", Path.Combine(PgBin(), "initdb"), "-D", PgData, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C");
        await File.AppendAllTextAsync(Path.Combine(PgData, "postgresql.conf"), $"""

            # --- OrleansCompute fault harness ---
            listen_addresses = '{Network.Address("pg")}'
            port = {PgPort}
            unix_socket_directories = '{Path.Combine(pg, "sock")}'
            max_connections = 400
            fsync = on
            synchronous_commit = on
            """);
        await File.AppendAllTextAsync(Path.Combine(PgData, "pg_hba.conf"), $"host all all 10.213.{Network.Slot}.0/24 trust\n");
    }

    /// <summary>Starts the postmaster in its namespace and waits until it accepts connections.</summary>
    public async Task StartPostgresAsync()
    {
        _postgres?.Dispose();
        _postgres = NodeProcess.Start("pg", Network.Namespace("pg"), Path.Combine(PgRoot, "server.log"), new Dictionary<string, string>(), "postgres",
            Path.Combine(PgBin(), "postgres"), "-D", PgData);
        var sock = Path.Combine(PgRoot, "sock");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (await TryExecAsync(Path.Combine(PgBin(), "pg_isready"), "-q", "-h", sock, "-p", PgPort.ToString(), "-U", "postgres"))
            {
                break;
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(60) || _postgres.HasExited)
            {
                throw new InvalidOperationException("PostgreSQL did not start:\n" + _postgres.Tail());
            }

            await Task.Delay(200);
        }

        // The database exists after the first start; CREATE fails harmlessly later.
        await TryExecAsync(Path.Combine(PgBin(), "psql"), "-q", "-X", "-h", sock, "-p", PgPort.ToString(), "-U", "postgres", "-d", "postgres", "-c", "CREATE DATABASE orleans");
    }

    /// <summary>PostgreSQL's fast shutdown (SIGINT): every connection is cut, and it is gone until started again.</summary>
    public async Task StopPostgresAsync()
    {
        _postgres!.Signal(NodeProcess.SigInt);
        if (!await _postgres.WaitForExitAsync(TimeSpan.FromSeconds(30)))
        {
            _postgres.Kill();
            await _postgres.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
    }

    private string ClockFile(string silo) => Path.Combine(Directory, $"{silo}.faketime");

    /// <summary>
    /// Skews the silo's wall clock (libfaketime reads the file at most once a second,
    /// FAKETIME_CACHE_DURATION); monotonic clocks are left alone, as a real NTP step does.
    /// </summary>
    public void SetClockSkew(string silo, int seconds) =>
        File.WriteAllText(ClockFile(silo), seconds >= 0 ? $"+{seconds}s\n" : $"{seconds}s\n");

    /// <summary>The silo's wall clock minus ours, read from the Date header of its health answer (whole seconds).</summary>
    public async Task<TimeSpan?> ClockOffsetAsync(string silo)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            var before = DateTimeOffset.UtcNow;
            using var response = await http.GetAsync($"http://{Network.Address(silo)}:{HealthPort}/health/live");
            return response.Headers.Date is { } date ? date - before : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    public void StartSilo(string silo)
    {
        lock (_silos)
        {
            _heldDown.Remove(silo);
            if (_silos.Remove(silo, out var old))
            {
                old.Dispose();
            }

            _silos[silo] = StartSiloProcess(silo);
        }
    }

    private NodeProcess StartSiloProcess(string silo) => NodeProcess.Start(silo, Network.Namespace(silo), Path.Combine(Directory, $"{silo}.log"), new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = ConnectionString,
            ["Orleans__ClusterId"] = "faults",
            ["Orleans__AdvertisedIP"] = Network.Address(silo),
            ["Orleans__SiloPort"] = "11111",
            ["Orleans__GatewayPort"] = "30000",
            ["Silo__HealthPort"] = HealthPort.ToString(),
            ["Silo__Name"] = silo,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ",
        }.Concat(_siloSettings).Concat(SkewableClock(LibFaketime, ClockFile(silo))).ToDictionary(), null, "dotnet", Paths.Binary("Silo", "OrleansCompute.Silo.dll"));

    /// <summary>
    /// The environment that lets <see cref="SetClockSkew"/> step a process's wall clock, and nothing else:
    /// libfaketime reads the offset from the file (at most once a second), and monotonic clocks are left
    /// alone, as a real NTP step leaves them.
    /// <para>
    /// <c>FAKETIME_FORCE_MONOTONIC_FIX=0</c> matters: with monotonic clocks not faked, libfaketime 0.9.10's
    /// wrapper of <c>pthread_cond_timedwait</c> otherwise makes every timed wait on a monotonic condition
    /// variable return at once, and .NET waits on those (<c>Thread.Sleep</c>, <c>Monitor.Wait</c> and
    /// <c>ManualResetEventSlim.Wait</c> with a timeout). Every silo of the harness spun in them: Orleans'
    /// watchdog threads among others, 1.2 million "sleeps" of 500 ms in 3 s
    /// (<c>ClockSkewEnvironmentTests</c>).
    /// </para>
    /// </summary>
    public static Dictionary<string, string> SkewableClock(string libFaketime, string clockFile) => new()
    {
        ["LD_PRELOAD"] = libFaketime,
        ["FAKETIME_TIMESTAMP_FILE"] = clockFile,
        ["FAKETIME_CACHE_DURATION"] = "1",
        ["FAKETIME_DONT_FAKE_MONOTONIC"] = "1",
        ["FAKETIME_DONT_RESET"] = "1",
        ["FAKETIME_FORCE_MONOTONIC_FIX"] = "0",
    };

    public async Task<bool> SiloReadyAsync(string silo)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            return (await http.GetAsync($"http://{Network.Address(silo)}:{HealthPort}/health/ready")).IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public async Task WaitSiloReadyAsync(string silo, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!await SiloReadyAsync(silo))
        {
            if (clock.Elapsed > timeout)
            {
                throw new InvalidOperationException($"{silo} not ready after {clock.Elapsed.TotalSeconds:F0} s (exited: {Silo(silo).HasExited}):\n{Silo(silo).Tail()}");
            }

            await Task.Delay(300);
        }

        _log($"{silo} ready after {clock.Elapsed.TotalSeconds:F1} s");
    }

    private void StartApi()
    {
        _api = NodeProcess.Start("api", Network.Namespace("api"), Path.Combine(Directory, "api.log"), new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = ConnectionString,
            ["Orleans__ClusterId"] = "faults",
            ["ASPNETCORE_URLS"] = $"http://{Network.Address("api")}:{ApiPort}",
            ["Auth__AdminKey"] = AdminKey,
            ["RateLimit__RequestsPerSecond"] = "1000000",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ",
        }, null, "dotnet", Paths.Binary("Api", "OrleansCompute.Api.dll"));
    }

    private async Task WaitApiReadyAsync(TimeSpan timeout)
    {
        using var http = NewClient(TimeSpan.FromSeconds(3));
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if ((await http.GetAsync("/health/ready")).IsSuccessStatusCode)
                {
                    _log($"api ready after {clock.Elapsed.TotalSeconds:F1} s");
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            if (_api!.HasExited || clock.Elapsed > timeout)
            {
                throw new InvalidOperationException($"the Api is not ready after {clock.Elapsed.TotalSeconds:F0} s:\n{_api.Tail()}");
            }

            await Task.Delay(300);
        }
    }

    public IEnumerable<NodeProcess> Nodes =>
        _silos.Values.ToList().Concat(new[] { _api, _postgres }.OfType<NodeProcess>());

    public async ValueTask DisposeAsync()
    {
        _stopSupervisor.Cancel();
        await _supervisor;
        foreach (var node in Nodes)
        {
            node.Dispose();
        }

        try
        {
            File.Copy(Path.Combine(PgRoot, "server.log"), Path.Combine(Directory, "pg.log"), overwrite: true);
        }
        catch (IOException)
        {
        }

        Network.Dispose();
        await Task.CompletedTask;
    }

    private static async Task ExecAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await output}{await error}");
        }
    }

    private static async Task<bool> TryExecAsync(string file, params string[] args)
    {
        try
        {
            await ExecAsync(file, args);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
