namespace OrleansCompute.Data;

/// <summary>
/// A shard could not take the operation: it is moving between silos, another activation took it
/// over, or its store failed. <see cref="OutcomeUnknown"/> is true when a write may or may not have
/// been applied (the store failed during commit); otherwise nothing changed and a retry is safe.
/// </summary>
[GenerateSerializer, Alias("oc.ShardUnavailableException")]
public sealed class ShardUnavailableException : Exception
{
    public ShardUnavailableException(string message, bool outcomeUnknown, Exception? innerException = null)
        : base(message, innerException)
    {
        OutcomeUnknown = outcomeUnknown;
    }

    [Id(0)]
    public bool OutcomeUnknown { get; private set; }
}
