namespace OrleansCompute.Grains.Data.Watch;

/// <summary>Tunables of watch on the silos (configuration section <c>Watch</c>).</summary>
public sealed class WatchOptions
{
    /// <summary>How long the change log keeps a change; a cursor older than that is answered 410 compacted. At least an hour by default.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(2);

    /// <summary>How often each silo sweeps changes older than <see cref="Retention"/>.</summary>
    public TimeSpan SweepPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Changes removed per sweep statement, so a sweep never holds one long transaction.</summary>
    public int SweepBatchSize { get; set; } = 10_000;

    /// <summary>
    /// Recent changes each active shard keeps in memory, so watchers that keep up are served without
    /// reading the store; a cursor older than the tail reads the change log once.
    /// </summary>
    public int TailSize { get; set; } = 10_000;
}
