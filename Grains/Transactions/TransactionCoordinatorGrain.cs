using Microsoft.Extensions.Logging;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Transactions;
using OrleansCompute.Data;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>
/// Runs each request as one Orleans transaction started here, close to the participants, and
/// retries it while it aborts. Holds no state, so any number of activations may run per silo.
/// </summary>
[StatelessWorker]
public sealed partial class TransactionCoordinatorGrain(
    ITransactionClient transactions,
    IOptions<TransactionRetryOptions> options,
    ILogger<TransactionCoordinatorGrain> logger) : Grain, ITransactionCoordinatorGrain
{
    public async Task<TxnResult> RunAsync(TxnRequest request, CancellationToken cancellationToken = default)
    {
        // Writers lock exclusively from the first read, so the compare's read never has to be
        // upgraded to a write lock, which fails whenever another transaction reads the same key.
        var writes = request.Success.Concat(request.Failure).Any(op => op.Kind != TxnOpKind.Get);
        TxnResult? result = null;
        var attempt = await RunWithRetriesAsync(async () =>
        {
            result = await ExecuteAsync(request);
            // Returning false aborts the transaction: a rejected op leaves nothing applied.
            return result.Outcome == TxnOutcome.Committed;
        }, writes);
        return attempt.Outcome == TxnOutcome.Committed
            ? result!
            : new TxnResult(attempt.Outcome, false, [], Message: attempt.Message);
    }

    public async Task<TxnScanPage> ScanAsync(
        string tenant, Guid tableId, int shards, string prefix, string? after, int limit, CancellationToken cancellationToken = default)
    {
        TxnScanPage? page = null;
        var attempt = await RunWithRetriesAsync(async () =>
        {
            // Indexes and keys are read in one transaction: the page is one serializable snapshot of committed data.
            var lists = await Task.WhenAll(Enumerable.Range(0, shards).Select(shard =>
                GrainFactory.GetGrain<ITransactionalKeyIndexGrain>(TxnKeys.IndexGrain(tenant, tableId, shard)).ListAsync(prefix, after, limit)));
            var keys = lists
                .SelectMany((list, shard) => list.Keys.Select(key => (key, shard)))
                .OrderBy(k => k.key, KeyOrder.Instance)
                .ToList();
            var chosen = keys.Take(limit).ToList();
            var values = await Task.WhenAll(chosen.Select(k =>
                GrainFactory.GetGrain<ITransactionalKeyGrain>(TxnKeys.KeyGrain(tenant, tableId, k.shard, k.key)).ReadAsync()));
            var items = chosen.Zip(values)
                .Where(p => p.Second.Exists)
                .Select(p => new KvItem(p.First.key, p.Second.Value!, p.Second.Version))
                .ToList();
            page = new TxnScanPage(TxnOutcome.Committed, items, keys.Count > limit || lists.Any(l => l.More));
            return true;
        }, exclusive: false);
        return attempt.Outcome == TxnOutcome.Committed ? page! : new TxnScanPage(attempt.Outcome, [], false, attempt.Message);
    }

    public async Task<long> CountAsync(string tenant, Guid tableId, int shards, CancellationToken cancellationToken = default)
    {
        long count = 0;
        var attempt = await RunWithRetriesAsync(async () =>
        {
            var counts = await Task.WhenAll(Enumerable.Range(0, shards).Select(shard =>
                GrainFactory.GetGrain<ITransactionalKeyIndexGrain>(TxnKeys.IndexGrain(tenant, tableId, shard)).CountAsync()));
            count = counts.Sum(c => (long)c);
            return true;
        }, exclusive: false);
        return attempt.Outcome == TxnOutcome.Committed
            ? count
            : throw new ShardUnavailableException($"The key count could not be read: {attempt.Message}", outcomeUnknown: false);
    }

    private async Task<TxnResult> ExecuteAsync(TxnRequest request)
    {
        // Each key compared is read once, all of them at the same time.
        var compared = request.Compare.Select(c => c.Key.GrainKey).Distinct(StringComparer.Ordinal).ToList();
        var read = await Task.WhenAll(compared.Select(key => Key(key).ReadAsync()));
        var observed = compared.Zip(read).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        var succeeded = request.Compare.All(c => CompareEvaluator.Holds(c, observed[c.Key.GrainKey]));

        var ops = succeeded ? request.Success : request.Failure;
        var results = new TxnKeyValue?[ops.Length];
        // Ops on one key run in request order (each sees the ones before); different keys run in parallel.
        await Task.WhenAll(ops.Select((op, index) => (op, index)).GroupBy(o => o.op.Key.GrainKey, StringComparer.Ordinal).Select(async group =>
        {
            foreach (var (op, index) in group)
            {
                results[index] = await RunOpAsync(op);
            }
        }));

        var rejected = Array.FindIndex(results, r => r is null);
        return rejected >= 0
            ? new TxnResult(TxnOutcome.Rejected, succeeded, [], rejected,
                $"Key '{ops[rejected].Key.Key}' of table '{ops[rejected].Key.Table}' holds a value that is not a number (or the sum does not fit); add needs a number.")
            : new TxnResult(TxnOutcome.Committed, succeeded, results!);
    }

    private Task<TxnKeyValue?> RunOpAsync(TxnOp op)
    {
        var key = Key(op.Key.GrainKey);
        return op.Kind switch
        {
            TxnOpKind.Get => Nullable(key.ReadAsync()),
            TxnOpKind.Put => Nullable(key.PutAsync(op.Value!)),
            TxnOpKind.Delete => Nullable(key.DeleteAsync()),
            _ => JsonNumbers.TryReadDecimal(op.Value!, out var delta)
                ? key.AddAsync(delta)
                : throw new ArgumentException("The Api sends only numbers to add.", nameof(op)),
        };
    }

    private static async Task<TxnKeyValue?> Nullable(Task<TxnKeyValue> task) => await task;

    private ITransactionalKeyGrain Key(string grainKey) => GrainFactory.GetGrain<ITransactionalKeyGrain>(grainKey);

    /// <summary>
    /// Runs <paramref name="body"/> in a new transaction until it commits, the body declines to
    /// commit, the attempts or the time budget run out, or the outcome cannot be known. Only aborts
    /// are retried: an aborted transaction applied nothing, so running it again is safe.
    /// </summary>
    private async Task<(TxnOutcome Outcome, string? Message)> RunWithRetriesAsync(Func<Task<bool>> body, bool exclusive)
    {
        var settings = options.Value;
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await transactions.RunTransaction(TransactionOption.Create, body, exclusive);
                return (TxnOutcome.Committed, null);
            }
            catch (OrleansTransactionInDoubtException ex)
            {
                LogInDoubt(ex.TransactionId, ex.Message);
                return (TxnOutcome.OutcomeUnknown, "The transaction's commit started but its outcome could not be learned; it may or may not have been applied.");
            }
            catch (OrleansTransactionException ex) when (ex is OrleansTransactionAbortedException or OrleansTransactionOverloadException
                                                             or OrleansTransactionServiceNotAvailableException or OrleansStartTransactionFailedException)
            {
                var unavailable = IsUnavailable(ex);
                if (attempt >= settings.MaxAttempts || clock.Elapsed >= settings.RetryBudget)
                {
                    LogGaveUp(attempt, ex.GetType().Name, ex.Message);
                    return unavailable
                        ? (TxnOutcome.Unavailable, "Participants of the transaction could not be reached; nothing was applied.")
                        : (TxnOutcome.Conflict, $"The transaction conflicted with concurrent transactions {attempt} times; nothing was applied.");
                }

                // Full jitter: conflicting transactions that retry together would conflict again.
                var ceiling = Math.Min(settings.MaxBackoff.TotalMilliseconds, settings.BaseBackoff.TotalMilliseconds * Math.Pow(2, attempt - 1));
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling));
            }
        }
    }

    private static bool IsUnavailable(Exception exception)
    {
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException or OrleansTransactionServiceNotAvailableException)
            {
                return true;
            }
        }

        return exception is OrleansTransactionServiceNotAvailableException or OrleansStartTransactionFailedException;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transaction {TransactionId} is in doubt: {Message}")]
    private partial void LogInDoubt(string transactionId, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transaction gave up after {Attempts} attempts: {Error}: {Message}")]
    private partial void LogGaveUp(int attempts, string error, string message);
}
