using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Errors;

/// <summary>
/// A transaction did not commit, or may not have: <see cref="TxnOutcome.Conflict"/> (409, nothing
/// applied), <see cref="TxnOutcome.Unavailable"/> (503, nothing applied) or
/// <see cref="TxnOutcome.OutcomeUnknown"/> (503 outcome-unknown: it may have applied). All carry Retry-After.
/// </summary>
public sealed class TransactionFailedException(TxnOutcome outcome, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>Seconds a client should wait before retrying a transaction that conflicted.</summary>
    public const int ConflictRetryAfterSeconds = 1;

    public TxnOutcome Outcome { get; } = outcome;
}
