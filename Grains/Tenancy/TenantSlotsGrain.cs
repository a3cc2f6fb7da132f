using System.Diagnostics;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Tenancy;

/// <summary>
/// One tenant's slots of one kind across all Api processes (<see cref="ITenantSlotsGrain"/>).
/// Memory only, on purpose: the Api processes are the record of what they hold and renew it every
/// few seconds, so a new activation after a silo's death is whole again after one renewal period,
/// and nothing is written to PostgreSQL per watch or waiter. Every call is one turn without awaits,
/// so the grain needs no reentrancy.
/// </summary>
public sealed class TenantSlotsGrain : Grain, ITenantSlotsGrain
{
    private readonly SlotLedger _ledger = new();
    // Forgetting is about real time passing without renewals: the wall clock and test clocks have no say.
    private readonly long _started = Stopwatch.GetTimestamp();

    private TimeSpan Now => Stopwatch.GetElapsedTime(_started);

    public Task<bool> TryTakeAsync(SlotHolder holder, long slot, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult(_ledger.TryTake(holder, slot, limit, Now));

    public Task GiveAsync(string instance, long slot)
    {
        _ledger.Give(instance, slot);
        return Task.CompletedTask;
    }

    public Task RenewAsync(SlotHolder holder, SlotHoldings holdings, CancellationToken cancellationToken = default)
    {
        _ledger.Renew(holder, holdings, Now);
        return Task.CompletedTask;
    }
}
