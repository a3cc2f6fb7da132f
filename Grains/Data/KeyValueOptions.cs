namespace OrleansCompute.Grains.Data;

/// <summary>Tunables of the key-value store (configuration section <c>KeyValue</c>).</summary>
public sealed class KeyValueOptions
{
    /// <summary>How often each active shard removes expired keys from memory and the store.</summary>
    public TimeSpan SweepPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often each silo purges rows of dropped tables.</summary>
    public TimeSpan PurgePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Rows deleted per purge statement, so a huge table never holds one long transaction.</summary>
    public int PurgeBatchSize { get; set; } = 10_000;
}
