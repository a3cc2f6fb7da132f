using OrleansCompute.Coordination;
using OrleansCompute.Grains.Coordination;

namespace OrleansCompute.Tests.Unit;

/// <summary>The lease term and the lock line, with no cluster: the rules docs/coordination.md states.</summary>
public class CoordinationLogicTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void A_renewal_lasts_a_full_ttl_from_its_answer_and_marks_the_store_every_half_ttl()
    {
        var term = LeaseTerm.Granted(Ttl, markStarted: S(0));
        term.Renew(S(0.1));
        Assert.Equal(S(10.1), term.Deadline);

        Assert.False(term.NeedsMark(S(4.9)));
        term.Renew(S(4.9));
        Assert.Equal(S(14.9), term.Deadline);
        Assert.False(term.IsExpired(S(14.89)));
        Assert.True(term.IsExpired(S(14.9)));

        Assert.True(term.NeedsMark(S(5)));
        Assert.Throws<InvalidOperationException>(() => term.Renew(S(5)));
        term.Marked(S(5));
        term.Renew(S(5.01));
        Assert.Equal(S(15.01), term.Deadline);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(4.99)]
    public void Every_deadline_set_lies_before_the_latest_mark_plus_the_bound(double renewedAfterMark)
    {
        var term = LeaseTerm.Granted(Ttl, markStarted: S(100));
        term.Renew(S(100 + renewedAfterMark));

        Assert.True(term.Deadline < S(100) + LeaseTerm.Bound(Ttl));
    }

    [Fact]
    public void A_taken_over_lease_ends_at_the_bound_after_its_mark_never_sooner_than_the_old_owner()
    {
        // The old owner marked at 0 and last renewed at 4.9 (deadline 14.9). The new owner reads the store 3 s after the mark.
        var taken = LeaseTerm.TakenOver(Ttl, markedAgo: S(3), readAfter: S(1000));

        Assert.NotNull(taken);
        Assert.Equal(S(1000 + 12), taken.Deadline);
        // 12 s after the read is 15 s after the mark: at most half a TTL past the old owner's 14.9.
        Assert.True(taken.NeedsMark(S(1000)));
    }

    [Fact]
    public void Repeated_takeovers_without_a_keepalive_never_extend_the_lease()
    {
        // Each new owner reads the same mark, later: what is left only shrinks, and then the lease is over.
        var first = LeaseTerm.TakenOver(Ttl, markedAgo: S(3), readAfter: S(0))!;
        var second = LeaseTerm.TakenOver(Ttl, markedAgo: S(9), readAfter: S(6))!;
        var third = LeaseTerm.TakenOver(Ttl, markedAgo: S(14), readAfter: S(11))!;

        Assert.Equal(first.Deadline, second.Deadline);
        Assert.Equal(first.Deadline, third.Deadline);
        Assert.Null(LeaseTerm.TakenOver(Ttl, markedAgo: S(15), readAfter: S(12)));
    }

    [Fact]
    public void A_renewal_never_shortens_a_taken_over_deadline()
    {
        var taken = LeaseTerm.TakenOver(Ttl, markedAgo: S(0), readAfter: S(0))!;
        taken.Marked(S(0));

        taken.Renew(S(1));

        Assert.Equal(S(15), taken.Deadline);
    }

    [Fact]
    public void Waiters_are_granted_in_order_one_per_release_with_growing_tokens()
    {
        var line = new LockLine();
        line.Restore(lastToken: 41, holder: null);
        var a = line.Join("a");
        var b = line.Join("b");
        var c = line.Join("c");

        Assert.Same(a, line.GrantNext(DateTimeOffset.UnixEpoch));
        Assert.Null(line.GrantNext(DateTimeOffset.UnixEpoch));
        Assert.True(line.GrantDone(a, holds: true));
        Assert.Equal(42, line.Holder!.Token);
        Assert.Null(line.GrantNext(DateTimeOffset.UnixEpoch));

        Assert.Equal((ReleaseStatus.Released, true), line.Release(42));
        Assert.Same(b, line.GrantNext(DateTimeOffset.UnixEpoch));
        Assert.Equal(1, line.Waiting);
        Assert.True(line.GrantDone(b, holds: true));
        Assert.Equal(43, line.Holder!.Token);
        Assert.Equal("b", line.Holder.Lease);
        Assert.Equal(1, line.Waiting);
        Assert.Same(c, line.Leave(c) ? c : null);
        Assert.Equal(0, line.Waiting);
    }

    [Fact]
    public void A_grant_whose_lease_ended_burns_its_token_and_the_next_waiter_gets_a_higher_one()
    {
        var line = new LockLine();
        var dead = line.Join("dead");
        var live = line.Join("live");

        var first = line.GrantNext(DateTimeOffset.UnixEpoch)!;
        Assert.False(line.GrantDone(first, holds: false));
        Assert.Null(line.Holder);

        Assert.Same(live, line.GrantNext(DateTimeOffset.UnixEpoch));
        Assert.True(line.GrantDone(live, holds: true));
        Assert.Equal(2, line.Holder!.Token);
        Assert.Same(dead, first);
    }

    [Fact]
    public void A_lease_end_while_its_grant_is_under_way_voids_the_grant()
    {
        var line = new LockLine();
        var waiter = line.Join("a");
        line.GrantNext(DateTimeOffset.UnixEpoch);

        Assert.True(line.LeaseEnded("a").HolderChanged);

        Assert.False(line.GrantDone(waiter, holds: true));
        Assert.Null(line.Holder);
        Assert.True(line.IsFree);
    }

    [Fact]
    public void A_lease_end_releases_its_lock_and_takes_its_waiters_out_of_line()
    {
        var line = new LockLine();
        line.Restore(7, new LockHolder("a", 7, DateTimeOffset.UnixEpoch));
        line.Join("a");
        line.Join("b");

        var (changed, left) = line.LeaseEnded("a");

        Assert.True(changed);
        Assert.Equal(["a"], left.Select(w => w.Lease));
        Assert.Equal(1, line.Waiting);
        Assert.Equal(8, line.GrantNext(DateTimeOffset.UnixEpoch)!.Token);
    }

    [Theory]
    [InlineData(5, ReleaseStatus.Released, true)]
    [InlineData(4, ReleaseStatus.NotHolder, false)]
    [InlineData(6, ReleaseStatus.NotHolder, false)]
    public void Release_by_the_holder_frees_the_lock_and_another_token_changes_nothing(long token, ReleaseStatus status, bool changed)
    {
        var line = new LockLine();
        line.Restore(5, new LockHolder("a", 5, DateTimeOffset.UnixEpoch));

        Assert.Equal((status, changed), line.Release(token));
    }

    [Fact]
    public void Release_of_a_free_lock_is_done_for_a_token_it_issued_and_refused_for_one_it_never_did()
    {
        var line = new LockLine();
        line.Restore(5, holder: null);

        Assert.Equal((ReleaseStatus.Released, false), line.Release(3));
        Assert.Equal((ReleaseStatus.NotHolder, false), line.Release(6));
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("jobs/leader", true)]
    [InlineData("svc.v1/primary_1", true)]
    [InlineData("/a", false)]
    [InlineData("a/", false)]
    [InlineData(".a", false)]
    [InlineData("A", false)]
    [InlineData("", false)]
    [InlineData("a b", false)]
    public void Names_follow_the_table_rule_plus_slash_and_dot_inside(string name, bool valid) =>
        Assert.Equal(valid, CoordinationNames.IsValid(name));
}
