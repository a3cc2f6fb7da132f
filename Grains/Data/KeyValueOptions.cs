namespace OrleansCompute.Grains.Data;

/// <summary>Tunables of the key-value store (configuration section <c>KeyValue</c>).</summary>
public sealed class KeyValueOptions
{
    /// <summary>
    /// The DI key of the clock that decides expiry. It is separate from the silo's own
    /// <see cref="TimeProvider"/> so tests can move data time without moving Orleans' time.
    /// </summary>
    public const string ClockKey = "key-value";

    /// <summary>How often each active shard removes expired keys from memory and the store.</summary>
    public TimeSpan SweepPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a shard activation may serve reads without hearing from the store. A shard whose
    /// silo died is taken over by a new activation at most this long after its last renewal.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often each silo purges rows of dropped tables.</summary>
    public TimeSpan PurgePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Rows deleted per purge statement, so a huge table never holds one long transaction.</summary>
    public int PurgeBatchSize { get; set; } = 10_000;
}
