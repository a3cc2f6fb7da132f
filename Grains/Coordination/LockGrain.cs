using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansCompute.Coordination;
using OrleansCompute.Grains.Coordination.Storage;

namespace OrleansCompute.Grains.Coordination;

/// <summary>One lock: a <see cref="HeldNameGrain"/> whose holder carries no value. Reentrant for the reasons given there.</summary>
[Reentrant]
public sealed class LockGrain(ICoordinationStore store, [FromKeyedServices(CoordinationClock.Key)] TimeProvider clock, ILogger<LockGrain> logger)
    : HeldNameGrain(store, clock, logger), ILockGrain
{
    protected override string Kind => LeaseItem.LockKind;

    public Task<AcquireResult> AcquireAsync(string lease, TimeSpan wait, CancellationToken cancellationToken = default) =>
        AcquireAsync(lease, value: null, wait, cancellationToken);

    public new Task<ReleaseStatus> ReleaseAsync(long token, CancellationToken cancellationToken = default) =>
        base.ReleaseAsync(token, cancellationToken);

    public Task<LockView> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(View());

    public Task<long> IssuedThroughAsync(CancellationToken cancellationToken = default) => Task.FromResult(IssuedThrough);
}
