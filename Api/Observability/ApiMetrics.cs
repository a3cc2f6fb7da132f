using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansCompute.Data;
using OrleansCompute.Observability;
using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Observability;

/// <summary>
/// The Api's own instruments (meter <see cref="MeterName"/>, docs/observability.md): key-value
/// operations per tenant and table, and transaction outcomes. Labels name tenants, tables,
/// operations and outcomes, never keys or values.
/// </summary>
public sealed class ApiMetrics
{
    /// <summary>The meter of the Api's data-plane instruments.</summary>
    public const string MeterName = "OrleansCompute.Api";

    private readonly Counter<long> _kvRequests;
    private readonly Histogram<double> _kvDuration;
    private readonly Counter<long> _transactions;

    public ApiMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _kvRequests = meter.CreateCounter<long>("oc_kv_requests", description: "Key-value operations the Api answered, by tenant, table, operation (get, put, delete, scan, batch) and status.");
        _kvDuration = meter.CreateHistogram("oc_kv_request_duration", "s", "Time the Api took for a key-value operation, by tenant, table and operation.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = OrleansInstrumentBridge.SecondsBuckets });
        _transactions = meter.CreateCounter<long>("oc_transactions", description: "Transactions the Api ran (/v1/txn, and single-key calls on transactional tables), by outcome: committed, conflict (aborted after retries), rejected, fenced, unavailable, outcome_unknown.");
    }

    /// <summary>Starts timing one key-value operation; the request's span is tagged with the tenant and table.</summary>
    public long Start(string tenant, string table)
    {
        if (Activity.Current is { } activity)
        {
            activity.SetTag("oc.tenant", tenant);
            activity.SetTag("oc.table", table);
        }

        return Stopwatch.GetTimestamp();
    }

    /// <summary>Records a key-value operation that started at <paramref name="started"/>.</summary>
    public void KvDone(long started, string tenant, string table, string op, string status)
    {
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var tags = new TagList { { "tenant", tenant }, { "table", table }, { "op", op } };
        _kvDuration.Record(seconds, tags);
        tags.Add("status", status);
        _kvRequests.Add(1, tags);
    }

    /// <summary>Counts one transaction by its outcome.</summary>
    public void TransactionDone(TxnOutcome outcome) =>
        _transactions.Add(1, new KeyValuePair<string, object?>("outcome", OrleansInstrumentBridge.SnakeCase(outcome.ToString())));

    /// <summary>The label of a key operation.</summary>
    public static string OpName(KvOpKind kind) => kind switch
    {
        KvOpKind.Get => "get",
        KvOpKind.Put => "put",
        KvOpKind.Delete => "delete",
        _ => kind.ToString().ToLowerInvariant(),
    };

    /// <summary>The label of an answer's status.</summary>
    public static string StatusName(KvStatus status) => OrleansInstrumentBridge.SnakeCase(status.ToString());
}
