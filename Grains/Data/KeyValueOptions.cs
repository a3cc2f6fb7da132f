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
    /// The silo lease that all of a silo's shards hang on: a silo serves reads from memory only
    /// while it holds it, and the shards of a silo that died are taken over at most this long
    /// after its last renewal. It is renewed every fifth of this, and a silo treats it as ended a
    /// fifth early, for clock drift. Shorter fails over sooner; it must stay well above a renewal's
    /// worst round trip on a busy machine.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the silo's membership must stay unchanged before shards move to follow it: a flapping silo moves nothing.</summary>
    public TimeSpan RebalanceSettle { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often each silo checks that its shards are where the layout puts them, besides after every membership change.</summary>
    public TimeSpan RebalancePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Shard moves a silo runs at once, so a join or a leave never stalls the cluster.</summary>
    public int MaxMovesInFlight { get; set; } = 4;

    /// <summary>How often each silo purges rows of dropped tables.</summary>
    public TimeSpan PurgePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Rows deleted per purge statement, so a huge table never holds one long transaction.</summary>
    public int PurgeBatchSize { get; set; } = 10_000;
}
