using Microsoft.Extensions.Logging;
using OrleansCompute.Coordination;
using OrleansCompute.Data;
using OrleansCompute.Grains.Coordination.Storage;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Coordination;

/// <summary>
/// What locks and elections share: a name held by one lease at a time, its line
/// (<see cref="LockLine"/>), its tokens and its holder, durable in the store under the
/// activation's epoch, so two activations cannot both grant. A grant is answered only after the
/// holder's lease took the name in (refused once the lease ends: nothing is granted to a dead
/// lease) and the new token and holder are durable.
///
/// Subclasses are reentrant because waiters wait inside <see cref="AcquireAsync"/> while releases,
/// lease ends and reads go on. That is safe because every change to the line happens within one
/// turn, the one grant under way (<see cref="LockLine.Granting"/>) keeps the name from being handed
/// out twice, and each store write carries the line as it is when it is called: the store's group
/// commit runs statements in the order they were added, so the last one written is the latest state.
/// <para>
/// The item stays attached to the last holder's lease after a release ("sticky"), so that the next
/// grant to that same lease, the common case of one client taking a lock again and again, needs no
/// call to the lease and one statement (<see cref="ICoordinationStore.SaveGrantToAttachedAsync"/>).
/// It is detached once another lease is granted, or once the name has been free for a second. A
/// detach under way is awaited before the same lease attaches again, so the two never cross.
/// </para>
/// </summary>
public abstract partial class HeldNameGrain(
    ICoordinationStore store,
    TimeProvider clock,
    ILogger logger) : Grain
{
    private static readonly TimeSpan HolderCheckPeriod = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan IdleDetachAfter = TimeSpan.FromSeconds(1);

    private readonly LockLine _line = new();

    /// <summary>The <see cref="LeaseItem"/> kind: "lock" or "election".</summary>
    protected abstract string Kind { get; }

    /// <summary>The holder, once its grant is durable; null when free.</summary>
    protected LockHolder? Holder => _line.Granting is null ? _line.Holder : null;
    /// <summary>The highest token granted and durable: the one being granted counts only once its grant is written.</summary>
    protected long IssuedThrough => _line.Granting is null ? _line.LastToken : _line.LastToken - 1;

    /// <summary>Detaches on their way, by lease: an attach to that lease waits for its detach.</summary>
    private readonly Dictionary<string, Task> _detaching = [];
    private long _epoch;
    /// <summary>The lease this name's item is attached to by this activation: the holder's, or the last holder's.</summary>
    private string? _attached;
    private long _freedAt;
    private Task _pump = Task.CompletedTask;
    private bool _holderConfirmed;

    // Parsed once: every grant and release names them.
    private (string Tenant, string Name)? _key;

    private string Tenant => (_key ??= TenantKey.Parse(this.GetPrimaryKeyString())).Tenant;

    private string Name => (_key ??= TenantKey.Parse(this.GetPrimaryKeyString())).Name;

    private LeaseItem Item => new(Kind, Name);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var row = await store.TakeLockAsync(Tenant, Kind, Name, cancellationToken);
        _epoch = row.Epoch;
        _line.Restore(row.LastToken, row.Holder);
        // A holder in the store had its item attached; if its lease ended since, the sticky grant falls back to attaching.
        _attached = row.Holder?.Lease;
        // Confirm soon that the holder's lease still lives: it may have ended while no activation was here.
        this.RegisterGrainTimer(CheckHolderAsync, new GrainTimerCreationOptions(TimeSpan.Zero, HolderCheckPeriod));
    }

    /// <summary>Called after every change of the holder (or its value), in order.</summary>
    protected virtual void OnHolderChanged()
    {
    }

    protected async Task<AcquireResult> AcquireAsync(string lease, string? value, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (wait <= TimeSpan.Zero && !_line.IsFree)
        {
            return new AcquireResult(AcquireStatus.Held);
        }

        var waiter = _line.Join(lease, value);
        Pump();
        try
        {
            return wait <= TimeSpan.Zero ? await waiter.Answered.WaitAsync(cancellationToken) : await waiter.Answered.WaitAsync(wait, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            if (_line.Leave(waiter))
            {
                if (ex is TimeoutException)
                {
                    return new AcquireResult(AcquireStatus.Held);
                }

                throw;
            }

            // Out of line already: its grant is under way. A caller still listening (timeout) gets
            // it; one that went away gives it back at once.
            var result = await waiter.Answered;
            if (ex is OperationCanceledException && result.Status == AcquireStatus.Granted)
            {
                await ReleaseAsync(result.Token, CancellationToken.None);
                throw;
            }

            return result;
        }
    }

    protected async Task<ReleaseStatus> ReleaseAsync(long token, CancellationToken cancellationToken)
    {
        var (status, changed) = _line.Release(token);
        if (changed)
        {
            // The item stays attached to the lease (see the class): its next grant to that lease is one statement.
            _freedAt = clock.GetTimestamp();
            await SaveAsync();
            OnHolderChanged();
            Pump();
        }

        return status;
    }

    protected LockView View() => new(Holder, _line.Waiting);

    /// <summary>Replaces the leader's value while <paramref name="token"/> still holds, durably.</summary>
    protected async Task<bool> ProclaimValueAsync(long token, string value)
    {
        if (!_line.Proclaim(token, value))
        {
            return false;
        }

        await SaveAsync();
        OnHolderChanged();
        return _line.Holder?.Token == token;
    }

    public async Task LeaseEndedAsync(string lease, CancellationToken cancellationToken = default)
    {
        var (holderChanged, left) = _line.LeaseEnded(lease);
        if (_attached == lease)
        {
            // The ending lease forgets all its items itself.
            _attached = null;
        }

        foreach (var waiter in left)
        {
            waiter.Answer(new AcquireResult(AcquireStatus.LeaseNotFound));
        }

        if (holderChanged)
        {
            LogReleasedByLeaseEnd(Kind, Tenant, Name, lease);
            _freedAt = clock.GetTimestamp();
            // Durable before the lease forgets it: the lease tells every lock until each answered.
            await SaveAsync();
            OnHolderChanged();
            Pump();
        }
    }

    private void Pump()
    {
        if (_pump.IsCompleted)
        {
            _pump = GrantAsync();
        }
    }

    /// <summary>Grants to waiters in order until one holds the lock or the line is empty. Its failures go to the waiter it served.</summary>
    private async Task GrantAsync()
    {
        while (_line.GrantNext(clock.GetUtcNow()) is { } waiter)
        {
            try
            {
                var attached = await WriteGrantAsync(waiter);
                if (_line.GrantDone(waiter, holds: attached))
                {
                    OnHolderChanged();
                    waiter.Answer(new AcquireResult(AcquireStatus.Granted, waiter.Token));
                    return;
                }

                // The lease had ended, or ended while it took the lock in.
                waiter.Answer(new AcquireResult(AcquireStatus.LeaseNotFound));
            }
            catch (Exception ex)
            {
                LogGrantFailed(ex, Kind, Tenant, Name);
                _line.GrantDone(waiter, holds: false);
                waiter.Fail(ex is CoordinationFencedException ? new StoreUnavailableException($"The {Kind} moved to another silo; retry.") : ex);
                if (_attached == waiter.Lease)
                {
                    _attached = null;
                }

                await DetachAsync(waiter.Lease);
            }
        }
    }

    /// <summary>
    /// Makes the grant to <paramref name="waiter"/> (the holder now, with its token) durable, with
    /// the item attached to its lease. False when the lease has ended or is ending: nothing is granted.
    /// </summary>
    private async Task<bool> WriteGrantAsync(LockLine.Waiter waiter)
    {
        if (_attached == waiter.Lease)
        {
            // Attached still by this lease's last grant: one statement, if the lease still qualifies.
            if (await store.SaveGrantToAttachedAsync(Tenant, Kind, Name, _epoch, _line.LastToken, _line.Holder!, CancellationToken.None))
            {
                return true;
            }

            // It does not (ended, near its bound, or the item went): the lease decides, the long way.
            _attached = null;
        }
        else if (_attached is { } previous)
        {
            // Another lease gets it: the last holder's item goes, in the background (a different row).
            _attached = null;
            StartDetach(previous);
        }

        if (_detaching.TryGetValue(waiter.Lease, out var detach))
        {
            // This lease's item is being detached: attach only after that, so the detach cannot land last.
            await detach;
        }

        if (!await GrainFactory.GetGrain<ILeaseGrain>(TenantKey.For(Tenant, waiter.Lease)).AttachAsync(Item))
        {
            return false;
        }

        _attached = waiter.Lease;
        if (_line.Holder?.Token == waiter.Token)
        {
            await SaveAsync();
        }

        return true;
    }

    private void StartDetach(string lease) => _detaching[lease] = DetachThenForgetAsync(lease);

    private async Task DetachThenForgetAsync(string lease)
    {
        await DetachAsync(lease);
        // Done before anyone awaiting this task goes on, so a newer detach of the lease is never the one removed.
        _detaching.Remove(lease);
    }

    /// <summary>Writes the line as it is now; the store runs statements in the order they were added, so the last one written is the latest state.</summary>
    private async Task SaveAsync()
    {
        try
        {
            // The statement joins the store's queue before the first await, carrying the line as it is now.
            await store.SaveLockAsync(Tenant, Kind, Name, _epoch, _line.LastToken, _line.Holder, CancellationToken.None);
        }
        catch (CoordinationFencedException)
        {
            DeactivateOnIdle();
            throw;
        }
    }

    private async Task DetachAsync(string lease)
    {
        try
        {
            await GrainFactory.GetGrain<ILeaseGrain>(TenantKey.For(Tenant, lease)).DetachAsync(Item);
        }
        catch (Exception ex)
        {
            // Harmless if it stays attached: when that lease ends, it tells this lock, which no longer holds for it.
            LogDetachFailed(ex, Kind, Tenant, Name, lease);
        }
    }

    /// <summary>
    /// Asks the holder's lease whether it lives, after activation and then every second while
    /// someone waits: a lease whose silo died ends there only once something wakes it.
    /// </summary>
    private async Task CheckHolderAsync(CancellationToken cancellationToken)
    {
        if (_line.IsFree && _attached is { } idle && clock.GetElapsedTime(_freedAt) >= IdleDetachAfter)
        {
            // Free for a while: the last holder's lease stops listing it.
            _attached = null;
            StartDetach(idle);
        }

        if (_line.Holder is not { } holder || _line.Granting is not null || (_holderConfirmed && _line.Waiting == 0))
        {
            return;
        }

        try
        {
            if (await GrainFactory.GetGrain<ILeaseGrain>(TenantKey.For(Tenant, holder.Lease)).GetAsync(cancellationToken) is null)
            {
                await LeaseEndedAsync(holder.Lease, cancellationToken);
            }

            _holderConfirmed = true;
        }
        catch (Exception ex)
        {
            LogHolderCheckFailed(ex, Kind, Tenant, Name, holder.Lease);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The {Kind} {Tenant}/{Name} is released: its holder's lease {Lease} ended")]
    private partial void LogReleasedByLeaseEnd(string kind, string tenant, string name, string lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Granting the {Kind} {Tenant}/{Name} failed")]
    private partial void LogGrantFailed(Exception exception, string kind, string tenant, string name);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not detach the {Kind} {Tenant}/{Name} from lease {Lease}")]
    private partial void LogDetachFailed(Exception exception, string kind, string tenant, string name, string lease);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not check the lease {Lease} holding the {Kind} {Tenant}/{Name}")]
    private partial void LogHolderCheckFailed(Exception exception, string kind, string tenant, string name, string lease);
}
