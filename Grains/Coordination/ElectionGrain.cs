using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansCompute.Coordination;
using OrleansCompute.Grains.Coordination.Storage;

namespace OrleansCompute.Grains.Coordination;

/// <summary>
/// One election: a <see cref="HeldNameGrain"/> whose holder is the leader and carries a value.
/// Observers get the leader as it is, then every change in order: each change is written to every
/// observer's channel within the turn that made it durable. Reentrant for the reasons given on
/// <see cref="HeldNameGrain"/>; observing streams interleave with everything else.
/// </summary>
[Reentrant]
public sealed class ElectionGrain(ICoordinationStore store, [FromKeyedServices(CoordinationClock.Key)] TimeProvider clock, ILogger<ElectionGrain> logger)
    : HeldNameGrain(store, clock, logger), IElectionGrain
{
    private readonly HashSet<Channel<LeaderChange>> _observers = [];
    private long _sequence;

    protected override string Kind => LeaseItem.ElectionKind;

    public Task<AcquireResult> CampaignAsync(string lease, string value, TimeSpan wait, CancellationToken cancellationToken = default) =>
        AcquireAsync(lease, value, wait, cancellationToken);

    public async Task<ProclaimStatus> ProclaimAsync(long token, string value, CancellationToken cancellationToken = default) =>
        await ProclaimValueAsync(token, value) ? ProclaimStatus.Proclaimed : ProclaimStatus.NotLeader;

    public Task ResignAsync(long token, CancellationToken cancellationToken = default) => ReleaseAsync(token, cancellationToken);

    public Task<LockHolder?> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(Holder);

    public async IAsyncEnumerable<LeaderChange> ObserveAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Unbounded: a change is never dropped; a slow observer costs memory until it reads or leaves.
        var channel = Channel.CreateUnbounded<LeaderChange>(new UnboundedChannelOptions { SingleReader = true });
        channel.Writer.TryWrite(new LeaderChange(_sequence, Holder));
        _observers.Add(channel);
        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return change;
            }
        }
        finally
        {
            _observers.Remove(channel);
        }
    }

    protected override void OnHolderChanged()
    {
        var change = new LeaderChange(++_sequence, Holder);
        foreach (var observer in _observers)
        {
            observer.Writer.TryWrite(change);
        }
    }
}
