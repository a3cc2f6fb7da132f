namespace OrleansCompute.Bench.Elastic;

/// <summary>
/// One window of the elastic run: steady load, or an event (join, leave, kill, reshard) from the
/// moment it was triggered until the cluster settled again, and at least --duration.
/// </summary>
/// <param name="Name">steady, join, leave, kill, reshard.</param>
/// <param name="What">What happened, e.g. "bench-silo-2 joins (2 -> 3 silos)".</param>
/// <param name="Timeline">What was observed when, in seconds from the trigger ("active after 6.1 s").</param>
public sealed record ElasticWindow(
    string Name, string What, WindowFigures Figures, long? Commits, long? WriteTransactions, IReadOnlyList<string> Timeline)
{
    public double? CommitsPerOp => Commits is { } c && Figures.Ops > 0 ? (double)c / Figures.Ops : null;

    public double? WriteTransactionsPerOp => WriteTransactions is { } w && Figures.Ops > 0 ? (double)w / Figures.Ops : null;
}

/// <summary>Everything the <c>elastic</c> workload measured (issue #11).</summary>
public sealed class ElasticSummary
{
    public string? Table { get; set; }

    public int Keys { get; set; }

    /// <summary>Requests per second of the open-loop load, PUT and GET in turn on every key.</summary>
    public double Rate { get; set; }

    /// <summary>"50% of the 2-silo peak" or "--rate".</summary>
    public string RateSource { get; set; } = "";

    /// <summary>How often each key is asked (keys / rate): the smallest per-key gap there can be.</summary>
    public double KeyIntervalMs => Rate > 0 ? Keys / Rate * 1000 : 0;

    public double RequestTimeoutSeconds { get; set; }

    public int? SilosBefore { get; set; }

    /// <summary>Closed-loop ops/s of the mix on the starting cluster.</summary>
    public double? PeakBefore { get; set; }

    /// <summary>Closed-loop ops/s of the mix once the joined silo holds its share.</summary>
    public double? PeakAfterJoin { get; set; }

    public int? SilosAfterJoin { get; set; }

    /// <summary>From the start command to the new silo showing Active in GET /v1/cluster.</summary>
    public double? JoinActiveSeconds { get; set; }

    /// <summary>From the new silo showing Active until every active silo hosts an even share of the table's shards, within one.</summary>
    public double? TimeToBalancedSeconds { get; set; }

    /// <summary>Shard handovers the silos report (sum of shardMovesCompleted) between the join and balance.</summary>
    public long? JoinMoves { get; set; }

    /// <summary>Every successful open-loop request of the run (all windows, and the load between them).</summary>
    public LatencySummary? OverallLatency { get; set; }

    public long OverallOps { get; set; }

    public long OverallErrors { get; set; }

    public List<ElasticWindow> Windows { get; } = [];

    /// <summary>Events that did not run, and why.</summary>
    public List<string> Skipped { get; } = [];
}
