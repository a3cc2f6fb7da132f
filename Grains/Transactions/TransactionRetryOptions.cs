namespace OrleansCompute.Grains.Transactions;

/// <summary>How transactions retry conflicts and aborts before giving up (configuration section <c>Transactions</c>).</summary>
public sealed class TransactionRetryOptions
{
    /// <summary>Attempts per request, the first included.</summary>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>Backoff before the second attempt; it doubles per attempt, with full jitter.</summary>
    public TimeSpan BaseBackoff { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Longest backoff between two attempts.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMilliseconds(400);

    /// <summary>
    /// No new attempt starts after this long, so the answer reaches the Api well within Orleans'
    /// 30-second response timeout (one attempt may itself take up to the 10-second transaction timeout).
    /// </summary>
    public TimeSpan RetryBudget { get; set; } = TimeSpan.FromSeconds(8);
}
