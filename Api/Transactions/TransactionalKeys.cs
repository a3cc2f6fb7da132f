using OrleansCompute.Data;
using OrleansCompute.Tenancy;
using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Transactions;

/// <summary>
/// Single-key calls on transactional tables (SPEC §4.2): each is a transaction of its own, and its
/// HTTP conditions become compares, so a conditional write is decided and applied atomically.
/// </summary>
public static class TransactionalKeys
{
    public static async Task<KvResult> ExecuteAsync(IGrainFactory grains, string tenant, TableInfo table, KvOp op, CancellationToken cancellationToken)
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
        var result = await TxnOutcomes.RunAsync(grains, new TxnRequest([.. compare], success, [read]), op.Kind != KvOpKind.Get, cancellationToken);
        TxnOutcomes.ThrowUnlessCommitted(result.Outcome, result.Message);

        if (!result.Succeeded)
        {
            var current = result.Results[0];
            return op.Kind == KvOpKind.Delete && !current.Exists && op.IfVersion is null
                ? new KvResult(KvStatus.NotFound)
                : new KvResult(KvStatus.PreconditionFailed, current.Version);
        }

        return op.Kind switch
        {
            KvOpKind.Get => result.Results[0] is { Exists: true } found
                ? new KvResult(KvStatus.Ok, found.Version, found.Value)
                : new KvResult(KvStatus.NotFound),
            KvOpKind.Put => new KvResult(result.Results[0].Exists ? KvStatus.Ok : KvStatus.Created, result.Results[1].Version),
            _ => new KvResult(KvStatus.Deleted),
        };
    }

    /// <summary>Committed keys of a transactional table, one page, read in one transaction.</summary>
    public static async Task<KvScanPage> ScanAsync(
        IGrainFactory grains, string tenant, TableInfo table, string prefix, string? after, int limit, CancellationToken cancellationToken)
    {
        var page = await grains.GetGrain<ITransactionCoordinatorGrain>(0)
            .ScanAsync(tenant, table.Id, table.Shards, prefix, after, limit, cancellationToken);
        TxnOutcomes.ThrowUnlessCommitted(page.Outcome, page.Message);
        return new KvScanPage(page.Items, page.More);
    }

    private static byte[] Json<T>(T value) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(value);
}
