namespace OrleansCompute.Tenancy;

/// <summary>
/// What one tenant holds open of one kind (<see cref="SlotKinds"/>) across every Api process, keyed
/// by <see cref="TenantKey.For"/>(tenant, kind), so a per-tenant limit holds for the whole service
/// and not once per Api replica. Each Api process counts its own slots and renews them here with
/// what it holds now, so an activation that lost its memory with its silo is whole again one
/// renewal later, and an Api process that stops renewing (it crashed) is forgotten after
/// <see cref="SlotHolder.ForgetAfter"/>, which gives its slots back.
/// </summary>
[Alias("oc.ITenantSlotsGrain")]
public interface ITenantSlotsGrain : IGrainWithStringKey
{
    /// <summary>
    /// Takes <paramref name="slot"/> (unique within its holder) unless the tenant's live holders
    /// hold <paramref name="limit"/> already. Idempotent: a slot held already answers true again.
    /// </summary>
    [Alias("Take")]
    Task<bool> TryTakeAsync(SlotHolder holder, long slot, int limit, CancellationToken cancellationToken = default);

    /// <summary>Gives <paramref name="slot"/> back. One-way: a give that is lost is made good by the holder's next renewal.</summary>
    [Alias("Give"), OneWay]
    Task GiveAsync(string instance, long slot);

    /// <summary>Replaces what <paramref name="holder"/> holds with <paramref name="holdings"/> and marks it alive.</summary>
    [Alias("Renew")]
    Task RenewAsync(SlotHolder holder, SlotHoldings holdings, CancellationToken cancellationToken = default);
}

/// <summary>The kinds of slot a tenant holds, each limited on its own.</summary>
public static class SlotKinds
{
    /// <summary>Lock acquires and election campaigns waiting in line.</summary>
    public const string Waiters = "waiters";

    /// <summary>Open watch streams.</summary>
    public const string WatchStreams = "watch-streams";
}

/// <summary>
/// One Api process holding slots: its instance id (new at every start) and how long after its last
/// message the grain forgets it (a few of its renewal periods).
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.SlotHolder")]
public sealed record SlotHolder(string Instance, TimeSpan ForgetAfter);

/// <summary>
/// What a holder holds of one tenant's slots at one instant: the slots admitted, the takes still
/// waiting for their answer, and the highest slot number issued so far. A slot the grain holds that
/// is in neither list and not above <see cref="IssuedThrough"/> is not held (its take's answer was
/// lost, or its give was); one above it was taken after this snapshot and stays.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.SlotHoldings")]
public sealed record SlotHoldings(IReadOnlyList<long> Held, IReadOnlyList<long> Pending, long IssuedThrough);
