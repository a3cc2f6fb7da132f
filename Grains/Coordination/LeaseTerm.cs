namespace OrleansCompute.Grains.Coordination;

/// <summary>
/// When a live lease ends, on its owner's monotonic clock (times are offsets from an origin the
/// owner picked). Pure: the lease grain feeds it readings and carries out what it says.
///
/// The rule that bounds a failover: the store is marked (its clock read, durably) at the grant and
/// again before any renewal answered half a TTL or more after the last mark started. So every
/// deadline this term sets, an answer time plus the TTL, lies before the latest mark plus 1.5 TTL.
/// A new owner after a failover reads "how long ago was the mark" from the store's clock alone and
/// ends the lease 1.5 TTL after the mark: never sooner than the old owner would have, and at most
/// half a TTL later. A failover without a keepalive in between moves nothing: repeated failovers
/// cannot keep a lease alive. See docs/coordination.md.
/// </summary>
public sealed class LeaseTerm
{
    private LeaseTerm(TimeSpan ttl, TimeSpan deadline, TimeSpan? markStarted)
    {
        Ttl = ttl;
        Deadline = deadline;
        MarkStarted = markStarted;
    }

    public TimeSpan Ttl { get; }

    /// <summary>The lease ends at this reading of the owner's clock, unless renewed.</summary>
    public TimeSpan Deadline { get; private set; }

    /// <summary>When the last mark this owner wrote started, by its clock; null when it wrote none yet (a taken-over lease).</summary>
    public TimeSpan? MarkStarted { get; private set; }

    /// <summary>How long after the latest mark a lease may live at most: a renewal answered just before half a TTL, plus its TTL.</summary>
    public static TimeSpan Bound(TimeSpan ttl) => ttl * 1.5;

    /// <summary>A new lease whose grant marked the store starting at <paramref name="markStarted"/>; not yet answered.</summary>
    public static LeaseTerm Granted(TimeSpan ttl, TimeSpan markStarted) => new(ttl, markStarted + ttl, markStarted);

    /// <summary>
    /// A lease taken over after its owner went away: the store said, at some instant before
    /// <paramref name="readAfter"/>, that its latest mark was <paramref name="markedAgo"/> old.
    /// Null when the bound has passed: the lease has ended.
    /// </summary>
    public static LeaseTerm? TakenOver(TimeSpan ttl, TimeSpan markedAgo, TimeSpan readAfter)
    {
        var left = Bound(ttl) - markedAgo;
        // Counting from after the read makes the new deadline no earlier than the bound.
        return left <= TimeSpan.Zero ? null : new LeaseTerm(ttl, readAfter + left, markStarted: null);
    }

    public bool IsExpired(TimeSpan now) => now >= Deadline;

    /// <summary>True when a renewal answered at <paramref name="now"/> must mark the store first.</summary>
    public bool NeedsMark(TimeSpan now) => MarkStarted is not { } started || now - started >= Ttl / 2;

    /// <summary>A mark that started at <paramref name="started"/> is durable.</summary>
    public void Marked(TimeSpan started) => MarkStarted = started;

    /// <summary>Renews to a TTL from <paramref name="now"/>, the instant of the answer. Only when no mark is due.</summary>
    public void Renew(TimeSpan now)
    {
        if (NeedsMark(now))
        {
            throw new InvalidOperationException("A renewal half a TTL after the last mark must mark the store first.");
        }

        // Never shorter than a deadline set before (a taken-over lease may hold a later one).
        if (now + Ttl > Deadline)
        {
            Deadline = now + Ttl;
        }
    }

    public TimeSpan Remaining(TimeSpan now) => Deadline > now ? Deadline - now : TimeSpan.Zero;
}
