using OrleansCompute.Grains.Tenancy;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Tests.Unit;

/// <summary>The counting of the per-tenant slot grains, with no cluster (docs/coordination.md, "Per-tenant limits").</summary>
public class SlotLedgerTests
{
    private static readonly SlotHolder A = new("api-a", TimeSpan.FromSeconds(15));
    private static readonly SlotHolder B = new("api-b", TimeSpan.FromSeconds(15));

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    private static SlotHoldings Holding(long[] held, long[] pending, long issuedThrough) => new(held, pending, issuedThrough);

    [Fact]
    public void The_limit_counts_every_holder_together_and_a_give_frees_one()
    {
        var ledger = new SlotLedger();
        Assert.True(ledger.TryTake(A, 1, limit: 3, S(0)));
        Assert.True(ledger.TryTake(B, 1, limit: 3, S(0)));
        Assert.True(ledger.TryTake(B, 2, limit: 3, S(0)));

        Assert.False(ledger.TryTake(A, 2, limit: 3, S(0)));
        Assert.False(ledger.TryTake(B, 3, limit: 3, S(0)));
        Assert.Equal(3, ledger.Held(S(0)));

        ledger.Give("api-b", 1);
        Assert.True(ledger.TryTake(A, 2, limit: 3, S(0)));
        Assert.Equal(3, ledger.Held(S(0)));
    }

    [Fact]
    public void A_retried_take_of_a_held_slot_is_admitted_again_and_counted_once()
    {
        var ledger = new SlotLedger();
        Assert.True(ledger.TryTake(A, 7, limit: 1, S(0)));

        Assert.True(ledger.TryTake(A, 7, limit: 1, S(1)));
        Assert.Equal(1, ledger.Held(S(1)));
        Assert.False(ledger.TryTake(B, 1, limit: 1, S(1)));
    }

    [Fact]
    public void A_give_of_a_slot_not_held_changes_nothing()
    {
        var ledger = new SlotLedger();
        Assert.True(ledger.TryTake(A, 1, limit: 5, S(0)));

        ledger.Give("api-a", 2);
        ledger.Give("api-c", 1);

        Assert.Equal(1, ledger.Held(S(0)));
    }

    [Fact]
    public void A_holder_not_heard_from_within_its_bound_is_forgotten_and_its_slots_come_back()
    {
        var ledger = new SlotLedger();
        Assert.True(ledger.TryTake(A, 1, limit: 2, S(0)));
        Assert.True(ledger.TryTake(B, 1, limit: 2, S(0)));
        ledger.Renew(B, Holding([1], [], 1), S(10));

        Assert.False(ledger.TryTake(B, 2, limit: 2, S(15)));
        Assert.True(ledger.TryTake(B, 2, limit: 2, S(15.01)));
        Assert.Equal(2, ledger.Held(S(15.01)));
        Assert.Equal(0, ledger.Held(S(30.02)));
    }

    [Fact]
    public void A_renewal_to_a_ledger_that_lost_its_memory_restores_the_count_even_above_the_limit()
    {
        var ledger = new SlotLedger();
        Assert.True(ledger.TryTake(B, 1, limit: 2, S(0)));

        ledger.Renew(A, Holding([1, 2], [], 2), S(0));

        Assert.Equal(3, ledger.Held(S(0)));
        Assert.False(ledger.TryTake(A, 3, limit: 2, S(0)));
    }

    [Fact]
    public void A_renewal_drops_slots_whose_take_answer_was_lost_and_keeps_those_still_pending_or_taken_after_it()
    {
        var ledger = new SlotLedger();
        foreach (var slot in new long[] { 1, 2, 3, 4 })
        {
            Assert.True(ledger.TryTake(A, slot, limit: 10, S(0)));
        }

        // The holder held 1, had lost the answer of 2, still waited for 3's, and took 4 after its snapshot.
        ledger.Renew(A, Holding([1], [3, 5], 3), S(1));

        Assert.Equal(3, ledger.Held(S(1)));
        // Slot 5 was pending, not taken: the renewal did not take it, so its take still meets the limit.
        Assert.False(ledger.TryTake(A, 5, limit: 3, S(1)));
        Assert.True(ledger.TryTake(A, 2, limit: 4, S(1)));
    }

    [Fact]
    public void A_renewal_of_nothing_gives_every_slot_of_that_holder_back()
    {
        var ledger = new SlotLedger();
        Assert.True(ledger.TryTake(A, 1, limit: 2, S(0)));
        Assert.True(ledger.TryTake(B, 1, limit: 2, S(0)));

        ledger.Renew(A, Holding([], [], 1), S(1));

        Assert.Equal(1, ledger.Held(S(1)));
        Assert.True(ledger.TryTake(B, 2, limit: 2, S(1)));
    }
}
