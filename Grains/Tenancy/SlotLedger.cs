using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Tenancy;

/// <summary>
/// The counting of <see cref="TenantSlotsGrain"/>, without Orleans: which holder (Api process)
/// holds which slots, and when each was last heard from. A holder not heard from within its
/// <see cref="SlotHolder.ForgetAfter"/> no longer counts, so a crashed Api's slots come back.
/// Times are on one monotonic clock, given by the caller.
/// </summary>
public sealed class SlotLedger
{
    private readonly Dictionary<string, Holder> _holders = new(StringComparer.Ordinal);

    /// <summary>The slots held by holders still counted at <paramref name="now"/>.</summary>
    public int Held(TimeSpan now)
    {
        Forget(now);
        return _holders.Values.Sum(h => h.Slots.Count);
    }

    /// <summary>Admits <paramref name="slot"/> for <paramref name="holder"/> unless <paramref name="limit"/> slots are held; a slot held already is admitted again.</summary>
    public bool TryTake(SlotHolder holder, long slot, int limit, TimeSpan now)
    {
        if (_holders.TryGetValue(holder.Instance, out var known) && known.Slots.Contains(slot))
        {
            known.Heard(holder, now);
            return true;
        }

        if (Held(now) >= limit)
        {
            return false;
        }

        var taker = HolderOf(holder, now);
        taker.Slots.Add(slot);
        return true;
    }

    public void Give(string instance, long slot)
    {
        if (_holders.TryGetValue(instance, out var holder) && holder.Slots.Remove(slot) && holder.Slots.Count == 0)
        {
            _holders.Remove(instance);
        }
    }

    /// <summary>
    /// Replaces what <paramref name="holder"/> holds with its own account: the slots it says it
    /// holds, plus those held here that it still waits to hear about (pending) or took after its
    /// snapshot (above <see cref="SlotHoldings.IssuedThrough"/>). Never refused: these are facts,
    /// even when they exceed the limit (after this grain lost its memory).
    /// </summary>
    public void Renew(SlotHolder holder, SlotHoldings holdings, TimeSpan now)
    {
        var next = new HashSet<long>(holdings.Held);
        if (_holders.TryGetValue(holder.Instance, out var known))
        {
            var pending = holdings.Pending.Count == 0 ? null : new HashSet<long>(holdings.Pending);
            next.UnionWith(known.Slots.Where(s => s > holdings.IssuedThrough || pending?.Contains(s) == true));
        }

        if (next.Count == 0)
        {
            _holders.Remove(holder.Instance);
            return;
        }

        HolderOf(holder, now).Slots = next;
    }

    private Holder HolderOf(SlotHolder holder, TimeSpan now)
    {
        if (!_holders.TryGetValue(holder.Instance, out var known))
        {
            _holders[holder.Instance] = known = new Holder();
        }

        known.Heard(holder, now);
        return known;
    }

    private void Forget(TimeSpan now)
    {
        // Removing the entry being enumerated is allowed by Dictionary.
        foreach (var (instance, holder) in _holders)
        {
            if (now - holder.HeardAt > holder.ForgetAfter)
            {
                _holders.Remove(instance);
            }
        }
    }

    private sealed class Holder
    {
        public HashSet<long> Slots { get; set; } = [];

        public TimeSpan HeardAt { get; private set; }

        public TimeSpan ForgetAfter { get; private set; }

        public void Heard(SlotHolder holder, TimeSpan now)
        {
            HeardAt = now;
            ForgetAfter = holder.ForgetAfter;
        }
    }
}
