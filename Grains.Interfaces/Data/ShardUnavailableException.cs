namespace OrleansCompute.Data;

/// <summary>
/// A shard could not take the operation: it is moving between silos, another activation took it
/// over, or its store failed. <see cref="OutcomeUnknown"/> is true when a write may or may not have
/// been applied (the store failed during commit); otherwise nothing changed and a retry is safe.
/// </summary>
/// <remarks>
/// It carries no inner exception on purpose: it travels from a silo to the Api, and the store's
/// own exceptions (Npgsql's) have no codec there, which turned a retryable 503 into a 500. The
/// silo logs the cause where it happens.
/// </remarks>
[GenerateSerializer, Alias("oc.ShardUnavailableException")]
public sealed class ShardUnavailableException : Exception
{
    /// <summary>Says why the shard could not take the operation, and whether a write may have applied.</summary>
    public ShardUnavailableException(string message, bool outcomeUnknown)
        : base(message)
    {
        OutcomeUnknown = outcomeUnknown;
    }

    /// <summary>True when a write may or may not have been applied; false when nothing changed.</summary>
    [Id(0)]
    public bool OutcomeUnknown { get; private set; }
}
