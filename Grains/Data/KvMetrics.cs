using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansCompute.Grains.Data.Placement;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// The sharded store's instruments on each silo (docs/observability.md): keys and bytes held per
/// tenant and table (by table id: a shard knows its table by id only), commit latency, shard
/// opens, and the silo's lease renewals. Labels never carry keys or values.
/// </summary>
public sealed class KvMetrics
{
    /// <summary>The meter, shared with the shards' placement (<see cref="ShardRebalancer"/>).</summary>
    public const string MeterName = ShardRebalancer.MeterName;

    private static readonly double[] CommitBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly ConcurrentDictionary<string, ShardFigures> _shards = new(StringComparer.Ordinal);
    private readonly Histogram<double> _commits;
    private readonly Counter<long> _opens;
    private readonly Counter<long> _renewals;

    public KvMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("oc_kv_keys", () => Totals(f => f.Keys), description: "Keys held in memory by the shards on this silo, by tenant and table id (live and expired-unswept).");
        meter.CreateObservableGauge("oc_kv_value_bytes", () => Totals(f => f.Bytes), "By", "Bytes of values held by the shards on this silo, by tenant and table id.");
        _commits = meter.CreateHistogram("oc_kv_commit_duration", "s", "Time of one shard group commit to the store (many writes share one), by tenant and outcome (ok, failed).",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = CommitBuckets });
        _opens = meter.CreateCounter<long>("oc_kv_shard_opens", description: "Shards this silo opened (loaded from the store under a new epoch): first use, a move landing here, or a takeover after another silo's lease ran out; by tenant.");
        _renewals = meter.CreateCounter<long>("oc_kv_lease_renewals", description: "Renewals of this silo's shard lease, by outcome (ok, refused, failed). Refused or failed renewals stop the silo's shards from serving reads.");
        // The alert's series exist from the start, so increase() sees the first failure.
        LeaseRenewal("refused", 0);
        LeaseRenewal("failed", 0);
    }

    /// <summary>The figures one shard activation keeps up to date; removed by <see cref="Forget"/>.</summary>
    public ShardFigures Track(string shardKey, string tenant, Guid tableId)
    {
        var figures = new ShardFigures(tenant, tableId.ToString("N"));
        _shards[shardKey] = figures;
        return figures;
    }

    /// <summary>The shard deactivated: its keys no longer count on this silo.</summary>
    public void Forget(string shardKey, ShardFigures figures) =>
        _shards.TryRemove(new KeyValuePair<string, ShardFigures>(shardKey, figures));

    /// <summary>A shard opened on this silo.</summary>
    public void Opened(string tenant) => _opens.Add(1, new KeyValuePair<string, object?>("tenant", tenant));

    /// <summary>Starts timing a commit.</summary>
    public static long StartCommit() => Stopwatch.GetTimestamp();

    /// <summary>A commit that started at <paramref name="started"/> ended.</summary>
    public void Committed(long started, string tenant, bool ok) =>
        _commits.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new TagList { { "tenant", tenant }, { "outcome", ok ? "ok" : "failed" } });

    /// <summary>One renewal of the silo's lease ended with <paramref name="outcome"/>.</summary>
    public void LeaseRenewal(string outcome, long count = 1) => _renewals.Add(count, new KeyValuePair<string, object?>("outcome", outcome));

    private IEnumerable<Measurement<long>> Totals(Func<ShardFigures, long> figure) =>
        _shards.Values
            .GroupBy(f => (f.Tenant, f.TableId))
            .Select(g => new Measurement<long>(g.Sum(figure), new KeyValuePair<string, object?>("tenant", g.Key.Tenant), new KeyValuePair<string, object?>("table_id", g.Key.TableId)));
}

/// <summary>Keys and value bytes of one shard activation; written on the grain's turn, read by scrapes.</summary>
public sealed class ShardFigures(string tenant, string tableId)
{
    private long _keys;
    private long _bytes;

    public string Tenant { get; } = tenant;

    public string TableId { get; } = tableId;

    public long Keys => Volatile.Read(ref _keys);

    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>A key was added (<paramref name="keys"/> 1), replaced (0) or removed (-1), changing the value bytes by <paramref name="bytes"/>.</summary>
    public void Change(long keys, long bytes)
    {
        Interlocked.Add(ref _keys, keys);
        Interlocked.Add(ref _bytes, bytes);
    }

    /// <summary>Sets both after a load or a clear.</summary>
    public void Reset(long keys, long bytes)
    {
        Volatile.Write(ref _keys, keys);
        Volatile.Write(ref _bytes, bytes);
    }
}
