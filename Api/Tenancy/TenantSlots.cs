using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Errors;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Tenancy;

/// <summary>
/// What each tenant holds open of one kind (waiting acquires, watch streams), limited across every
/// Api process: a take asks the tenant's <see cref="ITenantSlotsGrain"/>, which counts the slots of
/// all Api processes together. This process keeps its own account of what it holds, sends it to
/// the grains every <see cref="TenantSlotOptions.RenewPeriod"/> (<see cref="TenantSlotRenewal"/>),
/// and is forgotten by them <see cref="TenantSlotOptions.RenewalsMissedBeforeForgotten"/> periods
/// after its last renewal, which is the bound on how long a crashed Api's slots stay taken.
/// Each kind of slot is a subclass naming its kind and limit.
/// </summary>
public abstract partial class TenantSlots(string kind, Func<int> limit, IGrainFactory grains, IOptions<TenantSlotOptions> options, ILogger logger)
{
    // Table of this process's holdings, one entry per tenant that ever took a slot here; entries
    // stay, so a take never races the entry's removal.
    private readonly ConcurrentDictionary<string, Holdings> _tenants = new(StringComparer.Ordinal);

    // New at every start: a restarted Api process is a new holder, and its old self is forgotten.
    private readonly SlotHolder _holder = new($"{Environment.MachineName}/{Guid.NewGuid():N}", options.Value.ForgetAfter);

    public int Limit => limit();

    /// <summary>
    /// Takes a slot for <paramref name="tenant"/>: the slot (dispose it to give it back), or none
    /// because the tenant holds <see cref="Limit"/> across the service, or none because the grain
    /// could not answer before <paramref name="cancellationToken"/> fired (nothing is held then).
    /// </summary>
    public async Task<SlotTake> TryTakeAsync(string tenant, CancellationToken cancellationToken)
    {
        var holdings = _tenants.GetOrAdd(tenant, _ => new Holdings());
        var slot = holdings.Issue();
        bool taken;
        try
        {
            taken = await Grain(tenant).TryTakeAsync(_holder, slot, Limit, cancellationToken);
        }
        catch (Exception ex) when (ex is OperationCanceledException || ClusterFaults.IsUnavailable(ex))
        {
            // The grain may have taken it: the next renewal leaves it out, which gives it back there.
            holdings.Settle(slot, taken: false);
            LogTakeFailed(kind, tenant, ex.GetType().Name, ex.Message);
            return SlotTake.Unavailable;
        }
        catch
        {
            holdings.Settle(slot, taken: false);
            throw;
        }

        holdings.Settle(slot, taken);
        return taken ? new SlotTake(new Slot(this, tenant, slot), false) : SlotTake.Full;
    }

    /// <summary>Sends every tenant's holdings of this process to its grain; a tenant that holds nothing is sent once more, then left alone.</summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        var renewals = _tenants.Select(t => (Tenant: t.Key, Holdings: t.Value.Snapshot())).Where(t => t.Holdings is not null).ToList();
        await Parallel.ForEachAsync(renewals, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (renewal, ct) =>
        {
            try
            {
                await Grain(renewal.Tenant).RenewAsync(_holder, renewal.Holdings!, ct);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The next period tries again; missing a few is what the grain allows for.
                LogRenewFailed(kind, renewal.Tenant, ex.GetType().Name, ex.Message);
            }
        });
    }

    private ITenantSlotsGrain Grain(string tenant) => grains.GetGrain<ITenantSlotsGrain>(TenantKey.For(tenant, kind));

    private void Give(string tenant, long slot)
    {
        if (_tenants.TryGetValue(tenant, out var holdings) && holdings.Give(slot))
        {
            // One-way, so a closing stream never waits on the cluster; a lost give is made good by the next renewal.
            Grain(tenant).GiveAsync(_holder.Instance, slot).Ignore();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not take a {Kind} slot for tenant {Tenant}: {Error}: {Message}")]
    private partial void LogTakeFailed(string kind, string tenant, string error, string message);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not renew the {Kind} slots of tenant {Tenant}: {Error}: {Message}")]
    private partial void LogRenewFailed(string kind, string tenant, string error, string message);

    /// <summary>One tenant's slots in this process. Issuing and snapshots share one lock, so a snapshot's IssuedThrough covers exactly the slots it lists or that were settled.</summary>
    private sealed class Holdings
    {
        private readonly Lock _lock = new();
        private readonly HashSet<long> _held = [];
        private readonly HashSet<long> _pending = [];
        private long _issued;
        private bool _reportedEmpty = true;

        public long Issue()
        {
            lock (_lock)
            {
                _pending.Add(++_issued);
                return _issued;
            }
        }

        public void Settle(long slot, bool taken)
        {
            lock (_lock)
            {
                _pending.Remove(slot);
                if (taken)
                {
                    _held.Add(slot);
                }

                _reportedEmpty = false;
            }
        }

        public bool Give(long slot)
        {
            lock (_lock)
            {
                return _held.Remove(slot);
            }
        }

        /// <summary>What to renew, or null when nothing is held and that was reported already.</summary>
        public SlotHoldings? Snapshot()
        {
            lock (_lock)
            {
                var empty = _held.Count == 0 && _pending.Count == 0;
                if (empty && _reportedEmpty)
                {
                    return null;
                }

                _reportedEmpty = empty;
                return new SlotHoldings([.. _held], [.. _pending], _issued);
            }
        }
    }

    private sealed class Slot(TenantSlots owner, string tenant, long slot) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Give(tenant, slot);
            }
        }
    }
}

/// <summary>The answer to a take: the slot, or why there is none.</summary>
public readonly record struct SlotTake(IDisposable? Slot, bool IsUnavailable)
{
    public static SlotTake Full => new(null, false);

    public static SlotTake Unavailable => new(null, true);
}

/// <summary>How this Api process keeps its slots counted with the cluster (configuration section <c>Slots</c>).</summary>
public sealed class TenantSlotOptions
{
    /// <summary>Renewals a holder may miss before the grains forget it and its slots come back.</summary>
    public const int RenewalsMissedBeforeForgotten = 3;

    /// <summary>How often this process renews what it holds (<c>Slots__RenewPeriod</c>).</summary>
    public TimeSpan RenewPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long after this process's last renewal its slots stay taken if it stops (crashes).</summary>
    public TimeSpan ForgetAfter => RenewPeriod * RenewalsMissedBeforeForgotten;
}
