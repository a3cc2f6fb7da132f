using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Observability;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;
using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Transactions;

/// <summary>
/// The Api's way into transactions (SPEC §4.2): <c>/v1/txn</c> bodies, and the single-key calls,
/// scans and counts of transactional tables, each of which is a transaction of its own. Outcomes
/// other than committed come back as values for the endpoint to answer, never as exceptions.
/// </summary>
public sealed class TransactionClient(IGrainFactory grains, ApiMetrics metrics)
{
    private ITransactionCoordinatorGrain Coordinator => grains.GetGrain<ITransactionCoordinatorGrain>(0);

    /// <summary>
    /// Runs <paramref name="request"/> on a coordinator. A transaction that can write and loses the
    /// cluster on the way (the connection drops, the call times out) may have committed: that is
    /// answered outcome-unknown, never "nothing applied".
    /// </summary>
    public async Task<TxnResult> RunAsync(TxnRequest request, bool writes, CancellationToken cancellationToken)
    {
        TxnResult result;
        try
        {
            result = await Coordinator.RunAsync(request, cancellationToken);
        }
        catch (Exception ex) when (writes && ClusterFaults.IsUnavailable(ex))
        {
            result = new TxnResult(TxnOutcome.OutcomeUnknown, false, [],
                Message: "The Api lost the cluster while the transaction ran; it may or may not have been applied.");
        }

        metrics.TransactionDone(result.Outcome);
        return result;
    }

    /// <summary>
    /// One key operation on a transactional table. Its HTTP conditions become compares, so a
    /// conditional write is decided and applied atomically.
    /// </summary>
    public async Task<DataAnswer<KvResult>> ExecuteAsync(string tenant, TableInfo table, KvOp op, CancellationToken cancellationToken)
    {
        var key = new TxnKeyRef(table.Name, op.Key, TxnKeys.KeyGrain(tenant, table, op.Key));
        var read = new TxnOp(TxnOpKind.Get, key);
        var compare = new List<TxnCompare>();
        if (op.IfVersion is { } version)
        {
            compare.Add(new TxnCompare(key, TxnCompareTarget.Version, TxnCompareOp.Equal, Json(version)));
        }

        if (op.IfAbsent || op.IfExists || op.Kind == KvOpKind.Delete)
        {
            // A delete of an absent key changes nothing and is answered 404, so it too is a compare.
            compare.Add(new TxnCompare(key, TxnCompareTarget.Exists, TxnCompareOp.Equal, Json(!op.IfAbsent)));
        }

        TxnOp[] success = op.Kind switch
        {
            KvOpKind.Get => [read],
            // Reading first tells created from replaced.
            KvOpKind.Put => [read, new TxnOp(TxnOpKind.Put, key, op.Value)],
            _ => [new TxnOp(TxnOpKind.Delete, key)],
        };
        var result = await RunAsync(new TxnRequest([.. compare], success, [read]), op.Kind != KvOpKind.Get, cancellationToken);
        if (result.Outcome != TxnOutcome.Committed)
        {
            return new(new KvResult(KvStatus.NotFound), result.Outcome, result.Message);
        }

        if (!result.Succeeded)
        {
            var current = result.Results[0];
            return new(op.Kind == KvOpKind.Delete && !current.Exists && op.IfVersion is null
                ? new KvResult(KvStatus.NotFound)
                : new KvResult(KvStatus.PreconditionFailed, current.Version));
        }

        return new(op.Kind switch
        {
            KvOpKind.Get => result.Results[0] is { Exists: true } found
                ? new KvResult(KvStatus.Ok, found.Version, found.Value, Revision: found.Revision ?? 0)
                : new KvResult(KvStatus.NotFound),
            KvOpKind.Put => new KvResult(result.Results[0].Exists ? KvStatus.Ok : KvStatus.Created, result.Results[1].Version, Revision: result.Results[1].Revision ?? 0),
            _ => new KvResult(KvStatus.Deleted, Revision: result.Results[0].Revision ?? 0),
        });
    }

    /// <summary>Committed keys of a transactional table, one page, read in one transaction.</summary>
    public async Task<DataAnswer<KvScanPage>> ScanAsync(
        string tenant, TableInfo table, string prefix, string? after, int limit, CancellationToken cancellationToken)
    {
        var page = await Coordinator.ScanAsync(tenant, table.Id, table.Shards, prefix, after, limit, cancellationToken);
        return new(new KvScanPage(page.Items, page.More), page.Outcome, page.Message);
    }

    /// <summary>Committed keys of a transactional table, counted in one transaction over its key indexes.</summary>
    public Task<long> CountAsync(string tenant, TableInfo table, CancellationToken cancellationToken) =>
        Coordinator.CountAsync(tenant, table.Id, table.Shards, cancellationToken);

    private static byte[] Json<T>(T value) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(value);
}

/// <summary>
/// What a data-plane call answers: its result, or, when a transaction stood in for it and did not
/// commit, that transaction's outcome (then <see cref="Value"/> means nothing).
/// </summary>
public readonly record struct DataAnswer<T>(T Value, TxnOutcome Outcome = TxnOutcome.Committed, string? Message = null)
{
    public bool Committed => Outcome == TxnOutcome.Committed;
}
