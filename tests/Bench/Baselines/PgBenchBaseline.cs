using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;

namespace OrleansCompute.Bench.Baselines;

/// <summary>
/// Raw PostgreSQL (SPEC §6 anchor "single-row upsert, one commit each"): pgbench with a custom
/// script, one upsert per transaction, against the database given with --pg, at the same
/// concurrency as the HTTP workloads. The ceiling a durable KV PUT is compared with.
/// </summary>
/// <remarks>
/// pgbench runs its own clients (one connection each, -j 2 threads), not our HTTP load loops;
/// that is the point: it is the database's best case. Latency percentiles come from its
/// per-transaction log (--log), read into the same histogram the HTTP runs use.
/// </remarks>
public sealed partial class PgBenchBaseline
{
    public const string TargetName = "pgbench";
    public const string WorkloadName = "upsert";

    /// <summary>The built-in TPC-B-like script (SPEC §6 anchor for transfers): 5 statements, one commit.</summary>
    public const string TpcbWorkloadName = "tpcb-like";

    /// <summary>tpcb-like scale: 16 branches, so 16 clients need not queue on one branch row.</summary>
    public const int TpcbScale = 16;

    /// <summary>tpcb-like clients at most: the anchor's best case is 8-16 clients; more only queue on the branches.</summary>
    public const int TpcbMaxClients = 16;

    private const string Script = """
        \set id random(1, 100000)
        INSERT INTO bench_kv (k, v, version) VALUES ('p' || lpad(:id::text, 6, '0'), jsonb_build_object('n', :id::int, 's', 'some text'), 1) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, version = bench_kv.version + 1;
        """;

    private readonly string _binary;
    private readonly PgStats _stats;
    private readonly ProgressDisplay _progress;
    private readonly NpgsqlConnectionStringBuilder _connection;

    private readonly bool _tpcb;

    private PgBenchBaseline(string binary, PgStats stats, ProgressDisplay progress, bool tpcb = false)
    {
        _tpcb = tpcb;
        _binary = binary;
        _stats = stats;
        _progress = progress;
        _connection = new NpgsqlConnectionStringBuilder(stats.ConnectionString);
    }

    public string Binary => _binary;

    public string Workload => _tpcb ? TpcbWorkloadName : WorkloadName;

    /// <summary>pgbench from PATH, else the newest under /usr/lib/postgresql/*/bin (Debian keeps server tools there).</summary>
    public static string? FindBinary()
    {
        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var major) ? major : 0)
                .Select(d => Path.Combine(d, "bin"))
            : [];
        return Executables.Find("pgbench", debian);
    }

    /// <summary>Finds pgbench and creates the bench table; throws <see cref="BenchSkipException"/> when pgbench is missing.</summary>
    public static async Task<PgBenchBaseline> StartAsync(PgStats stats, ProgressDisplay progress, CancellationToken cancellationToken)
    {
        var binary = FindBinary()
            ?? throw new BenchSkipException("pgbench: not found on PATH or under /usr/lib/postgresql/*/bin (apt-get install postgresql-client)");
        var baseline = new PgBenchBaseline(binary, stats, progress);
        await baseline.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS bench_kv(k text primary key, v jsonb, version bigint); TRUNCATE bench_kv;", cancellationToken);
        return baseline;
    }

    /// <summary>Finds pgbench and initializes its TPC-B-like tables at <see cref="TpcbScale"/> (pgbench -i).</summary>
    public static async Task<PgBenchBaseline> StartTpcbAsync(PgStats stats, ProgressDisplay progress, CancellationToken cancellationToken)
    {
        var binary = FindBinary()
            ?? throw new BenchSkipException("pgbench: not found on PATH or under /usr/lib/postgresql/*/bin (apt-get install postgresql-client)");
        var baseline = new PgBenchBaseline(binary, stats, progress, tpcb: true);
        var init = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-i", "-q", "-s", TpcbScale.ToString(CultureInfo.InvariantCulture), .. baseline.ConnectionArgs()])
        {
            init.ArgumentList.Add(arg);
        }

        baseline.SetPassword(init);
        using var process = Process.Start(init) ?? throw new BenchSkipException("pgbench: could not start");
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new BenchSkipException($"pgbench -i: exited with code {process.ExitCode}: {Tail(await errors)}");
        }

        return baseline;
    }

    /// <summary>Drops the bench tables.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => ExecuteAsync(
        _tpcb ? "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history;" : "DROP TABLE IF EXISTS bench_kv;",
        cancellationToken);

    /// <summary>A warmup run, then the measured run; at a fixed rate (-R) when <paramref name="rate"/> is set.</summary>
    public async Task<RunResult> RunAsync(LoadSettings settings, string mode, double? rate, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("oc-bench-pgbench.").FullName;
        try
        {
            var scriptPath = Path.Combine(directory, "upsert.sql");
            await File.WriteAllTextAsync(scriptPath, Script + "\n", cancellationToken);
            var label = $"{TargetName} {Workload}" + (rate is { } r ? $" @{r:0}/s" : "");
            if (_tpcb)
            {
                settings = settings with { Concurrency = Math.Min(settings.Concurrency, TpcbMaxClients) };
            }

            if (settings.Warmup > TimeSpan.Zero)
            {
                await RunPgBenchAsync(settings, settings.Warmup, rate, scriptPath, logPrefix: null, label, "warmup", cancellationToken);
            }

            // pgbench's backends exit at the end of each run and flush their statistics as they go.
            var before = await _stats.ReadSettledAsync(TimeSpan.FromSeconds(2), cancellationToken);
            var logPrefix = Path.Combine(directory, "pgbench_log");
            var output = await RunPgBenchAsync(settings, settings.Duration, rate, scriptPath, logPrefix, label, "measure", cancellationToken);
            var after = await _stats.ReadSettledAsync(TimeSpan.FromSeconds(2), cancellationToken);

            var processed = ParseLong(ProcessedRegex(), output) ?? throw new BenchSkipException($"pgbench: no transaction count in its output: {Tail(output)}");
            var failed = ParseLong(FailedRegex(), output) ?? 0;
            var tps = ParseDouble(TpsRegex(), output) ?? processed / Seconds(settings.Duration);
            var averageMs = ParseDouble(LatencyAverageRegex(), output);
            var histogram = ReadLatencyLog(directory);
            var latency = histogram.Summarize();
            string? note = null;
            if (latency is null && averageMs is { } avg)
            {
                latency = new LatencySummary(processed, avg, null, null, null, null, null);
                note = "pgbench log unreadable: average latency only";
            }

            if (rate is { } asked && tps < asked * 0.95)
            {
                note = $"reached only {tps:N0} of {asked:N0} tps";
            }

            return new RunResult
            {
                Target = TargetName,
                Workload = Workload,
                Mode = mode,
                TargetRate = rate,
                Concurrency = settings.Concurrency,
                Seconds = Seconds(settings.Duration),
                Ops = processed,
                OpsPerSecond = tps,
                Errors = failed,
                ErrorKinds = failed > 0 ? new Dictionary<string, long> { ["failed transactions"] = failed } : new Dictionary<string, long>(),
                Latency = latency,
                Commits = after.Commits - before.Commits,
                WriteTransactions = after.NextXid - before.NextXid,
                Note = note,
            };
        }
        finally
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
    }

    private async Task<string> RunPgBenchAsync(
        LoadSettings settings, TimeSpan duration, double? rate, string scriptPath, string? logPrefix, string label, string phase, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(scriptPath),
        };
        var seconds = (int)Math.Max(1, Math.Round(duration.TotalSeconds));
        var args = new List<string>
        {
            "-n", "-M", "prepared",
            _tpcb ? "-b" : "-f", _tpcb ? "tpcb-like" : scriptPath,
            "-c", settings.Concurrency.ToString(CultureInfo.InvariantCulture),
            "-j", Math.Min(2, settings.Concurrency).ToString(CultureInfo.InvariantCulture),
            "-T", seconds.ToString(CultureInfo.InvariantCulture),
            "-P", "1",
        };
        if (rate is { } r)
        {
            args.AddRange(["-R", r.ToString("0.###", CultureInfo.InvariantCulture)]);
        }

        if (logPrefix is not null)
        {
            args.AddRange(["--log", $"--log-prefix={logPrefix}"]);
        }

        args.AddRange(ConnectionArgs());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        SetPassword(start);

        start.Environment["PGAPPNAME"] = "oc-bench-pgbench";

        using var process = Process.Start(start) ?? throw new BenchSkipException("pgbench: could not start");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var progressOps = 0.0;
        var lastProgressSecond = 0.0;
        var clock = Stopwatch.StartNew();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stdout)
                {
                    stdout.AppendLine(e.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            // "progress: 3.0 s, 11890.2 tps, lat 5.373 ms stddev 2.107, 0 failed"
            var match = ProgressRegex().Match(e.Data);
            if (match.Success)
            {
                var at = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                var tps = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
                Volatile.Write(ref progressOps, progressOps + (tps * (at - lastProgressSecond)));
                lastProgressSecond = at;
                return;
            }

            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        await using (_progress.Start(label, () => new ProgressSample(phase, clock.Elapsed, duration, (long)Volatile.Read(ref progressOps), 0)))
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(seconds + 120));
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                cancellationToken.ThrowIfCancellationRequested();
                throw new BenchSkipException("pgbench: did not finish in time; killed");
            }
        }

        // Let the asynchronous readers drain.
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new BenchSkipException($"pgbench: exited with code {process.ExitCode}: {Tail(stderr.ToString())}");
        }

        return stdout.ToString();
    }

    private List<string> ConnectionArgs()
    {
        var args = new List<string>();
        if (!string.IsNullOrEmpty(_connection.Host))
        {
            args.AddRange(["-h", _connection.Host]);
        }

        args.AddRange(["-p", _connection.Port.ToString(CultureInfo.InvariantCulture)]);
        if (!string.IsNullOrEmpty(_connection.Username))
        {
            args.AddRange(["-U", _connection.Username]);
        }

        args.Add(_connection.Database ?? "postgres");
        return args;
    }

    private void SetPassword(ProcessStartInfo start)
    {
        if (!string.IsNullOrEmpty(_connection.Password))
        {
            start.Environment["PGPASSWORD"] = _connection.Password;
        }
    }

    /// <summary>pgbench --log lines: "client_id transaction_no time script_no time_epoch time_us [schedule_lag]", time in µs.</summary>
    private static Histogram ReadLatencyLog(string directory)
    {
        var histogram = new Histogram();
        foreach (var file in Directory.EnumerateFiles(directory, "pgbench_log.*"))
        {
            foreach (var line in File.ReadLines(file))
            {
                var fields = line.Split(' ', 4);
                // Failed or skipped transactions say so in this field instead of a number.
                if (fields.Length >= 3 && long.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var micros))
                {
                    histogram.Record(micros);
                }
            }
        }

        return histogram;
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_stats.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static double Seconds(TimeSpan duration) => Math.Max(1, Math.Round(duration.TotalSeconds));

    private static long? ParseLong(Regex regex, string text) =>
        regex.Match(text) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    private static double? ParseDouble(Regex regex, string text) =>
        regex.Match(text) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    private static string Tail(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" | ", lines.TakeLast(6));
    }

    [GeneratedRegex(@"^number of transactions actually processed: (\d+)", RegexOptions.Multiline)]
    private static partial Regex ProcessedRegex();

    [GeneratedRegex(@"^number of failed transactions: (\d+)", RegexOptions.Multiline)]
    private static partial Regex FailedRegex();

    [GeneratedRegex(@"^tps = ([0-9.]+)", RegexOptions.Multiline)]
    private static partial Regex TpsRegex();

    [GeneratedRegex(@"^latency average = ([0-9.]+) ms", RegexOptions.Multiline)]
    private static partial Regex LatencyAverageRegex();

    [GeneratedRegex(@"^progress: ([0-9.]+) s, ([0-9.]+) tps")]
    private static partial Regex ProgressRegex();
}
