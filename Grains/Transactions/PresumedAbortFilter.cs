using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;
using Orleans.Transactions;
using Orleans.Transactions.Abstractions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>
/// Keeps a transaction manager from committing a transaction it has already presumed aborted
/// (defect 17, docs/reliability.md). Orleans' manager answers a participant's ping for a
/// transaction it has no record of with a cancel (presumed abort), and the participant drops its
/// prepared write. But "no record" also holds while the commit request is still on its way from
/// the agent, held in a slow network: when it lands, the manager commits with the participant's
/// earlier prepared vote, and the transaction is applied on the manager and nowhere else (a
/// transfer's credit without its debit). Participants ping 5 s after they voted
/// (<c>RemoteTransactionPingFrequency</c>, SiloApp), sooner than the manager's lock on the
/// transaction expires (8 s), so one delayed request is enough.
/// <para>
/// This filter sits in front of the manager's extension and gives the presumption its missing
/// half: a ping for a transaction whose commit request has not arrived is remembered, and a commit
/// request arriving after one is answered <see cref="TransactionalStatus.BrokenLock"/> without
/// reaching the manager, which then has nothing to commit. Every participant aborts too: the one
/// that pinged was told to; the others ping in turn and are told the same; one never asked to
/// prepare lets its lock expire. BrokenLock is what the manager itself answers a commit request
/// that comes after its lock on the transaction expired, and the agent takes it as a definite
/// abort: the coordinator may retry, since nothing was applied. A ping while the commit request is being worked on is dropped instead of passed
/// on, because the manager queues the commit only after validating its lock, and a ping in
/// between would be presumed aborted too; the participant pings again later.
/// </para>
/// <para>
/// The memory is per silo, which is per activation of the manager: an activation on another silo
/// holds none of the old one's locks, so a late commit request reaching it fails its lock
/// validation and aborts anyway. Presumptions are kept <see cref="Retention"/>, far beyond the
/// lock's expiry, after which the manager's lock is broken and cannot validate either.
/// </para>
/// </summary>
public sealed partial class PresumedAbortFilter(ILogger<PresumedAbortFilter> logger) : IIncomingGrainCallFilter
{
    /// <summary>How long a presumed abort is remembered.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(10);

    private readonly Dictionary<(GrainId Manager, Guid Transaction), Mark> _marks = [];
    private readonly Lock _gate = new();
    private long _lastSweep = Stopwatch.GetTimestamp();

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod?.DeclaringType != typeof(ITransactionManagerExtension))
        {
            await context.Invoke();
            return;
        }

        var key = (context.TargetId, (Guid)context.Request.GetArgument(1)!);
        switch (context.InterfaceMethod.Name)
        {
            case nameof(ITransactionManagerExtension.Ping):
                if (OnPing(key))
                {
                    await context.Invoke();
                }

                return;
            case nameof(ITransactionManagerExtension.PrepareAndCommit):
                if (!OnCommitRequest(key))
                {
                    LogRefused(key.Item2, key.TargetId.ToString());
                    // The answer itself, set without invoking the manager: nothing waits on anything here.
                    context.Response = Response.FromResult(TransactionalStatus.BrokenLock);
                    return;
                }

                try
                {
                    await context.Invoke();
                }
                finally
                {
                    OnCommitRequestDone(key);
                }

                return;
            default:
                await context.Invoke();
                return;
        }
    }

    /// <summary>Whether a ping goes on to the manager; one that does is remembered as a presumed abort.</summary>
    public bool OnPing((GrainId, Guid) key)
    {
        lock (_gate)
        {
            if (_marks.TryGetValue(key, out var mark) && !mark.PresumedAborted)
            {
                return false;
            }

            SweepLocked();
            _marks[key] = new Mark(PresumedAborted: true, Stopwatch.GetTimestamp());
            return true;
        }
    }

    /// <summary>Whether a commit request may reach the manager: not once its transaction was presumed aborted.</summary>
    public bool OnCommitRequest((GrainId, Guid) key)
    {
        lock (_gate)
        {
            if (_marks.TryGetValue(key, out var mark) && mark.PresumedAborted)
            {
                return false;
            }

            _marks[key] = new Mark(PresumedAborted: false, Stopwatch.GetTimestamp());
            return true;
        }
    }

    /// <summary>The manager answered the commit request: from now on it knows the outcome itself.</summary>
    public void OnCommitRequestDone((GrainId, Guid) key)
    {
        lock (_gate)
        {
            if (_marks.TryGetValue(key, out var mark) && !mark.PresumedAborted)
            {
                _marks.Remove(key);
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _marks.Count;
            }
        }
    }

    // Pings are rare (a participant asks only after waiting 5 s for the outcome): a sweep at most once
    // a minute, on a ping, bounds the memory by the pings of the last Retention.
    private void SweepLocked()
    {
        var now = Stopwatch.GetTimestamp();
        if (Stopwatch.GetElapsedTime(_lastSweep, now) < TimeSpan.FromMinutes(1))
        {
            return;
        }

        _lastSweep = now;
        foreach (var key in _marks.Where(m => m.Value.PresumedAborted && Stopwatch.GetElapsedTime(m.Value.Since, now) > Retention).Select(m => m.Key).ToList())
        {
            _marks.Remove(key);
        }
    }

    /// <summary>A commit request being worked on, or a transaction presumed aborted, since a monotonic timestamp.</summary>
    private readonly record struct Mark(bool PresumedAborted, long Since);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The commit request of transaction {TransactionId} reached its manager {Manager} after a participant's ping had presumed it aborted; refused, so the transaction aborts everywhere")]
    private partial void LogRefused(Guid transactionId, string manager);
}
