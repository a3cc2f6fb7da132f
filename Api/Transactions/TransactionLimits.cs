namespace OrleansCompute.Api.Transactions;

/// <summary>Limits on transactions (configuration section <c>Transactions</c>).</summary>
public sealed class TransactionLimits
{
    /// <summary>Most compares and operations in one transaction, all three lists together; more are answered 400.</summary>
    public int MaxOps { get; set; } = 64;
}
