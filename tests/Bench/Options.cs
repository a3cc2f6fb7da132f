using System.Globalization;

namespace OrleansCompute.Bench;

/// <summary>Command-line options of the harness.</summary>
public sealed record Options
{
    public static readonly IReadOnlyList<string> AllWorkloads = ["kv-get-hot", "kv-get-random", "kv-put-random", "txn-transfer", "lock-pair", "lease-keepalive", "watch-fanout"];

    /// <summary>Workloads run only when named: <c>elastic</c> starts, stops and kills silos (issue #11).</summary>
    public static readonly IReadOnlyList<string> KnownWorkloads = [.. AllWorkloads, "elastic"];

    public static readonly IReadOnlyList<string> AllBaselines = ["kestrel", "pgbench", "pgbench-tpcb", "etcd", "hangfire", "primes-loop"];

    public static readonly IReadOnlyList<string> AllJobs = ["noop", "primes"];

    public const string Usage = """
        usage: dotnet run -c Release --project tests/Bench -- [options]

          --api URL           the OrleansCompute Api (e.g. http://127.0.0.1:5000); without it the
                              KV and job workloads are skipped
          --pg CONNSTR        PostgreSQL of the cluster (Npgsql connection string): commits/op and
                              the pgbench and Hangfire baselines; without it all are skipped
          --api-key KEY       sent as "Authorization: Bearer KEY" on every Api request
          --concurrency N     concurrent requests (closed loop), or the cap in --rate mode (64)
          --duration S        measured seconds per run (10)
          --warmup S          seconds of load before measuring, every run (2)
          --prime S           seconds of unmeasured load per HTTP workload, once before its
                              first run, so freshly started processes are past JIT tiering (15)
          --workloads LIST    comma list of kv-get-hot,kv-get-random,kv-put-random,txn-transfer,
                              lock-pair,lease-keepalive,watch-fanout,elastic, or none (default: all
                              but elastic, which runs only when named)
          --silo-pids LIST    elastic: PIDs of running silos, comma-separated; the first gets SIGTERM
                              (graceful leave), the second SIGKILL
          --start-silo-cmd C  elastic: shell command that starts one more silo of the cluster and
                              returns (run with /bin/sh -c; its last output line is logged)
          --baselines LIST    comma list of kestrel,pgbench,pgbench-tpcb,etcd,hangfire,primes-loop, or none (all)
          --jobs LIST         comma list of noop,primes, or none (all): job workloads, each one job
                              run to completion through the Api (SPEC §4.3)
          --noop-tasks N      tasks of the no-op sleep job (20000)
          --hangfire-jobs N   no-op jobs the Hangfire baseline runs (3000)
          --primes-to N       the primes job and loop count 1..N (100000000, i.e. 10^8)
          --primes-runs N     runs of the primes job and of the loop; the figure is the median (3)
          --rate R            open loop: R requests/s in total instead of as fast as possible
          --half-peak         measure peak, then rerun each workload at 50% of it and report p99
          --cpu NAME=PID,...  also report CPU microseconds per operation of these processes (the Api,
                              the silos; 'postgres' counts the postmaster's children too)
          --rounds N          run the HTTP targets and baselines N times in turn; each ratio is the
                              median of the N rounds' ratios (1)
          --json FILE         also write every figure and ratio as JSON
          -h, --help          this text
        """;

    public Uri? Api { get; init; }

    public string? Postgres { get; init; }

    public string? ApiKey { get; init; }

    public int Concurrency { get; init; } = 64;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    // 15 s: under lock-pair load the Api still spent 3.2 s of every 5 s in the JIT in its first
    // seconds and settled near 0.1 s per 5 s only after about 15 s (dotnet-counters, 2026-12-02).
    public TimeSpan Prime { get; init; } = TimeSpan.FromSeconds(15);

    public IReadOnlyList<string> Workloads { get; init; } = AllWorkloads;

    public IReadOnlyList<string> Baselines { get; init; } = AllBaselines;

    public IReadOnlyList<string> Jobs { get; init; } = AllJobs;

    public IReadOnlyList<int> SiloPids { get; init; } = [];

    public string? StartSiloCommand { get; init; }

    public int NoOpTasks { get; init; } = 20_000;

    public int HangfireJobs { get; init; } = 3_000;

    public long PrimesTo { get; init; } = 100_000_000;

    public int PrimesRuns { get; init; } = 3;

    public double? Rate { get; init; }

    public bool HalfPeak { get; init; }

    /// <summary>
    /// How many times the HTTP targets and baselines run, one after the other in each round. A
    /// ratio is the median over the rounds of the ratio within one round, so a baseline is always
    /// compared with a figure measured minutes before it, not with one from the other end of the run.
    /// </summary>
    public int Rounds { get; init; } = 1;

    /// <summary>Processes whose CPU per operation is reported (--cpu api=PID,silo-0=PID,postgres=PID).</summary>
    public IReadOnlyDictionary<string, int> CpuProcesses { get; init; } = new Dictionary<string, int>();

    public string? JsonPath { get; init; }

    public bool Help { get; init; }

    /// <summary>Parses the command line; throws <see cref="OptionsException"/> with a message for the user.</summary>
    public static Options Parse(IReadOnlyList<string> args)
    {
        var options = new Options();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? inlineValue = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inlineValue = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            string Value()
            {
                if (inlineValue is not null)
                {
                    return inlineValue;
                }

                if (i + 1 >= args.Count)
                {
                    throw new OptionsException($"{arg} needs a value");
                }

                return args[++i];
            }

            options = arg switch
            {
                "-h" or "--help" => options with { Help = true },
                "--api" => options with { Api = ParseUri(arg, Value()) },
                "--pg" => options with { Postgres = NonEmpty(arg, Value()) },
                "--api-key" => options with { ApiKey = NonEmpty(arg, Value()) },
                "--concurrency" => options with { Concurrency = ParseInt(arg, Value(), 1, 10_000) },
                "--duration" => options with { Duration = ParseSeconds(arg, Value(), allowZero: false) },
                "--warmup" => options with { Warmup = ParseSeconds(arg, Value(), allowZero: true) },
                "--prime" => options with { Prime = ParseSeconds(arg, Value(), allowZero: true) },
                "--workloads" => options with { Workloads = ParseList(arg, Value(), KnownWorkloads) },
                "--silo-pids" => options with { SiloPids = ParsePids(arg, Value()) },
                "--start-silo-cmd" => options with { StartSiloCommand = NonEmpty(arg, Value()) },
                "--baselines" => options with { Baselines = ParseList(arg, Value(), AllBaselines) },
                "--jobs" => options with { Jobs = ParseList(arg, Value(), AllJobs) },
                "--noop-tasks" => options with { NoOpTasks = ParseInt(arg, Value(), 1, 1_000_000) },
                "--hangfire-jobs" => options with { HangfireJobs = ParseInt(arg, Value(), 1, 1_000_000) },
                "--primes-to" => options with { PrimesTo = ParseLong(arg, Value(), 1_000_000, 1_000_000_000_000) },
                "--primes-runs" => options with { PrimesRuns = ParseInt(arg, Value(), 1, 100) },
                "--rate" => options with { Rate = ParseDouble(arg, Value()) },
                "--half-peak" => options with { HalfPeak = true },
                "--rounds" => options with { Rounds = ParseInt(arg, Value(), 1, 20) },
                "--cpu" => options with { CpuProcesses = ParseNamedPids(arg, Value()) },
                "--json" => options with { JsonPath = NonEmpty(arg, Value()) },
                _ => throw new OptionsException($"unknown option '{args[i]}'"),
            };
        }

        if (options.Rate is not null && options.HalfPeak)
        {
            throw new OptionsException("--rate and --half-peak exclude each other: --half-peak picks its own rate (50% of the measured peak)");
        }

        return options;
    }

    private static List<int> ParsePids(string name, string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pid => ParseInt(name, pid, 2, int.MaxValue))
            .ToList();

    private static Dictionary<string, int> ParseNamedPids(string name, string value)
    {
        var processes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split('=', 2);
            if (parts.Length != 2 || parts[0].Length == 0 || !processes.TryAdd(parts[0], ParseInt(name, parts[1], 2, int.MaxValue)))
            {
                throw new OptionsException($"{name}: '{item}' is not NAME=PID with a name not given before");
            }
        }

        return processes;
    }

    private static string NonEmpty(string name, string value) =>
        string.IsNullOrWhiteSpace(value) ? throw new OptionsException($"{name} needs a non-empty value") : value;

    private static Uri ParseUri(string name, string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new OptionsException($"{name}: '{value}' is not an http(s) URL");
        }

        return uri;
    }

    private static int ParseInt(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new OptionsException($"{name}: '{value}' is not a whole number between {min} and {max}");

    private static long ParseLong(string name, string value, long min, long max) =>
        long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new OptionsException($"{name}: '{value}' is not a whole number between {min} and {max}");

    private static double ParseDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 && double.IsFinite(d)
            ? d
            : throw new OptionsException($"{name}: '{value}' is not a positive number");

    private static TimeSpan ParseSeconds(string name, string value, bool allowZero)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
            || !double.IsFinite(seconds) || seconds < 0 || (seconds == 0 && !allowZero) || seconds > 86_400)
        {
            throw new OptionsException($"{name}: '{value}' is not a valid number of seconds");
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static IReadOnlyList<string> ParseList(string name, string value, IReadOnlyList<string> known)
    {
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items is ["none"] || items.Length == 0)
        {
            return [];
        }

        var unknown = items.Where(item => !known.Contains(item, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
        {
            throw new OptionsException($"{name}: unknown {string.Join(", ", unknown)} (known: {string.Join(",", known)}, or none)");
        }

        return items.Distinct(StringComparer.Ordinal).ToList();
    }
}

/// <summary>A command line the harness cannot run; the message says why.</summary>
public sealed class OptionsException(string message) : Exception(message);
