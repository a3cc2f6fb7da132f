namespace OrleansCompute.Tests.Infrastructure;

/// <summary>A clock the test moves by hand, injected into silos as their <see cref="TimeProvider"/>, so expiry is tested without waiting.</summary>
public sealed class ManualClock : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}
