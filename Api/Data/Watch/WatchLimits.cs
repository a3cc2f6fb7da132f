namespace OrleansCompute.Api.Data.Watch;

/// <summary>Tunables of watch streams on the Api (configuration section <c>Watch</c>).</summary>
public sealed class WatchLimits
{
    /// <summary>
    /// Watch streams one tenant may hold open at once across all Api processes; more are answered
    /// 429 (counted by <see cref="WatchSlots"/>).
    /// </summary>
    public int MaxStreamsPerTenant { get; set; } = 1_000;

    /// <summary>How often an idle stream gets a <c>progress</c> event (at most 10 s, SPEC §4.4).</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Batches of changes a stream may have waiting; a stream further behind is caught up from its shards (their tail or change log) instead.</summary>
    public int StreamBuffer { get; set; } = 64;
}
