namespace OrleansCompute.Bench;

/// <summary>How a run paced its requests.</summary>
public static class RunModes
{
    /// <summary>Closed loop: every load loop sends its next request as soon as the last one answered (peak throughput).</summary>
    public const string Closed = "closed";

    /// <summary>Open loop at the rate given with --rate.</summary>
    public const string Rate = "rate";

    /// <summary>Open loop at half the peak the closed run of the same workload measured (--half-peak).</summary>
    public const string HalfPeak = "half-peak";

    /// <summary>A fixed amount of work run to completion (a job, Hangfire jobs, a loop): ops/s is ops / wall time.</summary>
    public const string Batch = "batch";
}

/// <summary>The figures of one measured run of one workload against one target.</summary>
public sealed record RunResult
{
    public required string Target { get; init; }

    public required string Workload { get; init; }

    public required string Mode { get; init; }

    /// <summary>Requests per second asked for in open-loop modes.</summary>
    public double? TargetRate { get; init; }

    public required int Concurrency { get; init; }

    public required double Seconds { get; init; }

    /// <summary>Successful (2xx) operations completed inside the measured window.</summary>
    public required long Ops { get; init; }

    public required double OpsPerSecond { get; init; }

    /// <summary>Failed operations in the window (non-2xx answers, transport errors); never counted in <see cref="Ops"/>.</summary>
    public required long Errors { get; init; }

    /// <summary>Errors by kind ("404 NotFound", "HttpRequestException", ...).</summary>
    public IReadOnlyDictionary<string, long> ErrorKinds { get; init; } = new Dictionary<string, long>();

    public LatencySummary? Latency { get; init; }

    /// <summary>Delta of pg_stat_database.xact_commit over the window; null when not measured.</summary>
    public long? Commits { get; init; }

    /// <summary>Transaction ids assigned over the window (transactions that wrote); null when not measured.</summary>
    public long? WriteTransactions { get; init; }

    public double? CommitsPerOp => Commits is { } commits && Ops > 0 ? (double)commits / Ops : null;

    public double? WriteTransactionsPerOp => WriteTransactions is { } writes && Ops > 0 ? (double)writes / Ops : null;

    /// <summary>Time the harness process spent in GC pauses during the window (HTTP runs only).</summary>
    public double? HarnessGcPauseMs { get; init; }

    /// <summary>CPU microseconds (user + system) per successful operation over the window, by process (--cpu, the target's own, the harness).</summary>
    public IReadOnlyDictionary<string, double>? CpuMicrosPerOp { get; init; }

    public string? Note { get; init; }

    /// <summary>The round (1, 2, ...) of a run with --rounds above 1; null in a run of one round.</summary>
    public int? Round { get; init; }
}

/// <summary>A workload or target that did not run, and why.</summary>
public sealed record Skipped(string Target, string? Workload, string Reason);

/// <summary>Thrown when a target or workload cannot be measured (not installed, not reachable, endpoint missing).</summary>
public sealed class BenchSkipException(string message) : Exception(message);
