using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansCompute.Coordination;
using OrleansCompute.Data;
using OrleansCompute.Grains.Coordination.Storage;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Coordination;

/// <summary>
/// One lease. Its activation is the authority on when it ends, by this silo's monotonic clock
/// (<see cref="LeaseTerm"/>); keepalives touch the store only about once every half TTL. An
/// activation takes the lease over with the next epoch, so an older one can no longer mark or end
/// it. A timer ends the lease on time; a reminder (coarse, but durable) wakes the lease on another
/// silo after this one died, so what is attached is released even if nobody calls.
///
/// Ending is three steps, each survived by a crash: the end is recorded (from then on the lease is
/// over for everyone), every attached lock and election is told and every attached key deleted, and the row is forgotten.
/// The items are durable rows until that last step, so a key whose shard is moving, or a silo that
/// dies half way, is retried (the timer, or the reminder on another silo): deletes are at least once. Attach and detach
/// interleave with the rest, so that a lock calling in while this lease is telling it about the
/// end cannot deadlock; they decide on <see cref="_ending"/>, which is set before the first await.
/// </summary>
public sealed partial class LeaseGrain(ICoordinationStore store, [FromKeyedServices(CoordinationClock.Key)] TimeProvider clock, ILogger<LeaseGrain> logger) : Grain, ILeaseGrain, IRemindable
{
    private const string WakeReminder = "wake";
    private static readonly TimeSpan MaxTimerPeriod = TimeSpan.FromSeconds(30);

    private readonly long _origin = clock.GetTimestamp();
    private readonly HashSet<LeaseItem> _items = [];
    private LeaseTerm? _term;
    private long _epoch;
    private bool _ending;
    private bool _endRecorded;
    private IGrainTimer? _timer;

    private string Tenant => TenantKey.Parse(this.GetPrimaryKeyString()).Tenant;

    private string Id => TenantKey.Parse(this.GetPrimaryKeyString()).Name;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (await store.TakeLeaseAsync(Tenant, Id, cancellationToken) is not { } row)
        {
            return;
        }

        _epoch = row.Epoch;
        _items.UnionWith(row.Items);
        if (!row.Ended)
        {
            _term = LeaseTerm.TakenOver(TimeSpan.FromMilliseconds(row.TtlMs), TimeSpan.FromMilliseconds(row.MarkedAgoMs), Now());
        }

        // Ended already, or its bound passed while no activation watched it: finish the end from the timer.
        ArmTimer(_term is null ? TimeSpan.Zero : _term.Remaining(Now()));
        if (_term is null)
        {
            _ending = true;
            _endRecorded = row.Ended;
        }
    }

    public async Task<LeaseGrant> GrantAsync(int ttlSeconds, int tenantLimit, CancellationToken cancellationToken = default)
    {
        if (_term is not null || _epoch != 0)
        {
            return new LeaseGrant(LeaseGrantStatus.Exists, default);
        }

        var ttl = TimeSpan.FromSeconds(ttlSeconds);
        var started = Now();
        var status = await store.InsertLeaseAsync(Tenant, Id, (int)ttl.TotalMilliseconds, tenantLimit, cancellationToken);
        if (status != LeaseGrantStatus.Granted)
        {
            return new LeaseGrant(status, default);
        }

        _epoch = 1;
        _term = LeaseTerm.Granted(ttl, started);
        // Registered before the answer: should this silo die, the reminder wakes the lease elsewhere.
        await this.RegisterOrUpdateReminder(WakeReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        await RenewAsync(cancellationToken);
        // The timer ends the lease on time even if nobody calls (its keys must go when it ends).
        ArmTimer(_term.Remaining(Now()));
        return new LeaseGrant(LeaseGrantStatus.Granted, clock.GetUtcNow() + _term.Remaining(Now()));
    }

    public async Task<int?> KeepAliveAsync(CancellationToken cancellationToken = default)
    {
        if (!await IsLiveAsync())
        {
            return null;
        }

        await RenewAsync(cancellationToken);
        return (int)_term!.Ttl.TotalSeconds;
    }

    public async Task<LeaseView?> GetAsync(CancellationToken cancellationToken = default) =>
        await IsLiveAsync()
            ? new LeaseView(Id, (int)_term!.Ttl.TotalSeconds, (long)_term.Remaining(Now()).TotalMilliseconds, [.. _items.OrderBy(i => i.Kind).ThenBy(i => i.Name, StringComparer.Ordinal)])
            : null;

    public async Task<bool> RevokeAsync(CancellationToken cancellationToken = default)
    {
        if (!await IsLiveAsync())
        {
            return false;
        }

        await EndAsync();
        return true;
    }

    public async Task<bool> AttachAsync(LeaseItem item, CancellationToken cancellationToken = default)
    {
        if (_ending || _term is null)
        {
            return false;
        }

        // In the set before the await: an end that starts meanwhile releases it too.
        _items.Add(item);
        bool attached;
        try
        {
            attached = await store.AttachAsync(Tenant, Id, _epoch, item, cancellationToken);
        }
        catch
        {
            _items.Remove(item);
            throw;
        }

        if (!attached)
        {
            _items.Remove(item);
        }

        return attached && !_ending;
    }

    public async Task DetachAsync(LeaseItem item, CancellationToken cancellationToken = default)
    {
        if (_ending)
        {
            // The end releases it anyway, and forgets every item at once.
            return;
        }

        _items.Remove(item);
        await store.DetachAsync(Tenant, Id, item, cancellationToken);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // Woken on a new silo (OnActivateAsync took the lease over and armed the timer), or a tick
        // on a live lease: nothing to do but forget a reminder that outlived its lease.
        if (_term is null && !_ending)
        {
            await UnregisterWakeReminderAsync();
        }
    }

    /// <summary>Live, by the owner's clock; a lease found expired is ended first (durably), so a 404 is final.</summary>
    private async Task<bool> IsLiveAsync()
    {
        if (_term is { } term && term.IsExpired(Now()))
        {
            await EndAsync();
        }

        if (_ending && !_endRecorded)
        {
            // An end is under way but not durable yet: record it before saying the lease is gone.
            await EndAsync();
        }

        return _term is not null && !_ending;
    }

    /// <summary>Renews to a TTL from the answer, marking the store first when half a TTL passed since the last mark began.</summary>
    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        var term = _term!;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var now = Now();
            if (!term.NeedsMark(now))
            {
                term.Renew(now);
                return;
            }

            var started = Now();
            await Fenced(store.MarkLeaseAsync(Tenant, Id, _epoch, cancellationToken));
            term.Marked(started);
        }

        // Each mark took half a TTL: the store is too slow to promise a renewal. The old deadline stands.
        throw new StoreUnavailableException("The store is too slow to renew the lease; its previous deadline stands.");
    }

    private async Task EndAsync()
    {
        _ending = true;
        _term = null;
        if (!_endRecorded)
        {
            await Fenced(store.EndLeaseAsync(Tenant, Id, _epoch, CancellationToken.None));
            _endRecorded = true;
            LogEnded(Tenant, Id, _items.Count);
        }

        // Every attached lock is told and key deleted. The end is durable already, so a failure is
        // not the caller's: the items stay recorded and the timer tries again in a second.
        try
        {
            await Task.WhenAll(_items.Select(TellEndedAsync));
        }
        catch (Exception ex)
        {
            LogEndFailed(ex, Tenant, Id);
            ArmTimer(TimeSpan.FromSeconds(1));
            return;
        }

        await store.DeleteLeaseAsync(Tenant, Id, CancellationToken.None);
        _items.Clear();
        _timer?.Dispose();
        _timer = null;
        await UnregisterWakeReminderAsync();
        DeactivateOnIdle();
    }

    private Task TellEndedAsync(LeaseItem item)
    {
        var key = TenantKey.For(Tenant, item.Name);
        return item.Kind switch
        {
            LeaseItem.KeyKind => DeleteKeyAsync(item.TableAndKey.Table, item.TableAndKey.Key),
            LeaseItem.ElectionKind => GrainFactory.GetGrain<IElectionGrain>(key).LeaseEndedAsync(Id),
            _ => GrainFactory.GetGrain<ILockGrain>(key).LeaseEndedAsync(Id),
        };
    }

    // Deletes an attached key where the table's layout says it lives now. A shard that answers
    // Moved (the table reshards) is asked again with the new layout; anything else that fails is
    // thrown, and the end is tried again (the timer), the item still recorded.
    private async Task DeleteKeyAsync(string table, string key)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            if (await GrainFactory.GetGrain<ITableGrain>(TenantKey.For(Tenant, table)).DescribeAsync() is not { Transactional: false } info)
            {
                return; // the table is gone (or was recreated transactional): nothing of the key is left
            }

            var result = await GrainFactory.GetGrain<IShardGrain>(ShardMap.ShardKeyFor(Tenant, info, key)).ExecuteAsync(new KvOp(KvOpKind.Delete, key));
            if (result.Status != KvStatus.Moved)
            {
                return;
            }
        }

        throw new StoreUnavailableException($"Key '{key}' of table '{table}' kept moving while lease {Id} ended; retrying.");
    }

    private async Task OnTimerAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_ending || _term is { } term && term.IsExpired(Now()))
            {
                await EndAsync();
                return;
            }
        }
        catch (Exception ex)
        {
            LogEndFailed(ex, Tenant, Id);
            _timer?.Change(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            return;
        }

        ArmTimer(_term?.Remaining(Now()) ?? TimeSpan.Zero);
    }

    private void ArmTimer(TimeSpan due)
    {
        // Ticks at least every MaxTimerPeriod: KeepAlive keeps an idle lease from being collected before it ends.
        var first = due < MaxTimerPeriod ? due : MaxTimerPeriod;
        if (_timer is null)
        {
            _timer = this.RegisterGrainTimer(OnTimerAsync, new GrainTimerCreationOptions(first, MaxTimerPeriod) { KeepAlive = true });
        }
        else
        {
            _timer.Change(first, MaxTimerPeriod);
        }
    }

    private async Task UnregisterWakeReminderAsync()
    {
        if (await this.GetReminder(WakeReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private async Task Fenced(Task write)
    {
        try
        {
            await write;
        }
        catch (CoordinationFencedException)
        {
            // A newer activation owns the lease; this one must not answer for it again.
            _term = null;
            DeactivateOnIdle();
            throw new StoreUnavailableException("The lease moved to another silo while the request ran; retry.");
        }
    }

    private TimeSpan Now() => clock.GetElapsedTime(_origin);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {Tenant}/{Lease} ended; releasing {Items} attached")]
    private partial void LogEnded(string tenant, string lease, int items);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not finish ending lease {Tenant}/{Lease}; retrying")]
    private partial void LogEndFailed(Exception exception, string tenant, string lease);
}
