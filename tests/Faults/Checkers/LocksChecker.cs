namespace OrleansCompute.Faults.Checkers;

/// <summary>
/// Locks and fencing (SPEC §4.4, §8).
/// <list type="bullet">
/// <item>At most one holder at a time <b>by the service's records</b> (lock.hold: holdFrom/holdTo in the service's
/// clock); the client's belief proves nothing, since a lease may end while its holder still thinks it holds.
/// Intervals that only touch (one's end = the next's start) do not overlap.</item>
/// <item>Tokens strictly increase per name: by the service's hold records in order of holdFrom, and by real time: an
/// acquire answered before another was sent got the lower token (the same token again only for the same lease).</item>
/// <item>No stale fenced write applied after a newer one: an acknowledged fenced write (lock.write ok) sent after another
/// acknowledged write to the same key and lock had its answer must not carry a lower token.</item>
/// <item>The final read of a fenced key (lock.read) shows the value of a write that was not refused, whose token is no
/// lower than the highest acknowledged one, and that no acknowledged write to the key followed in real time.</item>
/// </list>
/// Values of fenced writes are unique per write.
/// </summary>
public static class LocksChecker
{
    public const string Name = "locks";

    public static Verdict Check(History history)
    {
        var meta = history.Meta;
        var problems = new List<string>();
        var ops = 0;

        foreach (var byName in history.OfKind(OpKinds.LockHold).Where(o => o.Name is not null && o.HoldFrom is not null).GroupBy(o => o.Name!))
        {
            var holds = byName.OrderBy(h => h.HoldFrom).ThenBy(h => h.Token).ToList();
            ops += holds.Count;
            for (var i = 1; i < holds.Count; i++)
            {
                var previous = holds.Take(i).MaxBy(h => h.HoldTo ?? long.MaxValue)!;
                if ((previous.HoldTo ?? long.MaxValue) > holds[i].HoldFrom)
                {
                    problems.Add($"lock {byName.Key}: two holders at once by the service's records: token {previous.Token} (lease {previous.Lease}) held "
                        + $"[{previous.HoldFrom}, {(previous.HoldTo?.ToString() ?? "end")}] and token {holds[i].Token} (lease {holds[i].Lease}) from {holds[i].HoldFrom}");
                }

                if (holds[i].Token <= holds[i - 1].Token)
                {
                    problems.Add($"lock {byName.Key}: token {holds[i].Token} began holding at {holds[i].HoldFrom}, after token {holds[i - 1].Token} (from {holds[i - 1].HoldFrom}): tokens must strictly increase");
                }
            }
        }

        foreach (var byName in history.OfKind(OpKinds.LockAcquire).Where(o => o.Outcome == Outcome.Ok && o.Name is not null && o.Token is not null).GroupBy(o => o.Name!))
        {
            var acquires = byName.ToList();
            ops += acquires.Count;
            foreach (var same in acquires.GroupBy(a => a.Token).Where(g => g.Select(a => a.Lease).Distinct().Count() > 1))
            {
                problems.Add($"lock {byName.Key}: token {same.Key} was granted to leases {string.Join(", ", same.Select(a => a.Lease).Distinct())}");
            }

            var byComplete = acquires.OrderBy(a => a.CompleteOrEnd).ToList();
            foreach (var later in acquires)
            {
                var earlier = byComplete.TakeWhile(a => a.CompleteOrEnd < later.Invoke)
                    .Where(a => a.Token > later.Token || (a.Token == later.Token && a.Lease != later.Lease)).MaxBy(a => a.Token);
                if (earlier is not null)
                {
                    problems.Add($"lock {byName.Key}: {later.Describe(meta)} got token {later.Token}, but {earlier.Describe(meta)} had already been answered token {earlier.Token}");
                }
            }
        }

        var writes = history.OfKind(OpKinds.LockWrite).Where(o => o.Key is not null).ToList();
        ops += writes.Count;
        foreach (var byKey in writes.GroupBy(w => (w.Table ?? "", w.Key!, w.Name ?? "")))
        {
            var acked = byKey.Where(w => w.Outcome == Outcome.Ok && w.Token is not null).OrderBy(w => w.CompleteOrEnd).ToList();
            foreach (var later in acked)
            {
                var newer = acked.TakeWhile(w => w.CompleteOrEnd < later.Invoke).Where(w => w.Token > later.Token).MaxBy(w => w.Token);
                if (newer is not null)
                {
                    problems.Add($"stale fenced write applied: {later.Describe(meta)} (token {later.Token}) was acknowledged after {newer.Describe(meta)} (token {newer.Token}) had been");
                }
            }
        }

        foreach (var read in history.OfKind(OpKinds.LockRead).Where(o => o.Outcome == Outcome.Ok && o.Key is not null))
        {
            ops++;
            var toKey = writes.Where(w => (w.Table ?? "") == (read.Table ?? "") && w.Key == read.Key && (read.Name is null || w.Name == read.Name)).ToList();
            var ackedBefore = toKey.Where(w => w.Outcome == Outcome.Ok && w.CompleteOrEnd < read.Invoke).ToList();
            if (ackedBefore.Count == 0)
            {
                continue;
            }

            var writer = read.Value is null ? null : toKey.FirstOrDefault(w => w.Value == read.Value);
            var where = $"final read {read.Describe(meta)}";
            if (writer is null)
            {
                problems.Add($"{where}: no fenced write wrote that value, yet {ackedBefore.Count} writes were acknowledged before it");
                continue;
            }

            if (writer.Outcome == Outcome.Fail)
            {
                problems.Add($"{where}: shows the value of a refused write {writer.Describe(meta)}");
            }

            var highest = ackedBefore.MaxBy(w => w.Token)!;
            if (writer.Token < highest.Token)
            {
                problems.Add($"{where}: shows the value of token {writer.Token} ({writer.Describe(meta)}), but token {highest.Token} was acknowledged: {highest.Describe(meta)}");
            }

            var after = ackedBefore.FirstOrDefault(w => w.Invoke > writer.CompleteOrEnd);
            if (after is not null)
            {
                problems.Add($"{where}: shows {writer.Describe(meta)}, but {after.Describe(meta)} was sent after that was answered, and was acknowledged: an acknowledged write was lost");
            }
        }

        return problems.Count > 0 ? Verdict.Violation(Name, ops, string.Join("\n", problems.Distinct().Take(30))) : Verdict.Ok(Name, ops);
    }
}

public sealed record LeaseCheckOptions
{
    /// <summary>Allowed error of the service's clock rate against the recorder's, as a fraction of the TTL (0.001 =
    /// 1 ms per second). Offsets do not matter: both ends of the comparison are read on the recorder's clock.</summary>
    public double ClockRateTolerance { get; init; }
}

/// <summary>
/// Leases are never cut short (SPEC §4.4, §8): the service never ends a lease sooner than its TTL after the last
/// grant or keepalive it answered.
/// <para>The sound bound: the service answered an acknowledged grant or keepalive at some instant inside the op's
/// interval, so no earlier than the op's <b>invoke</b>; the guarantee then implies end ≥ invoke + TTL for each of them.
/// The end itself is only known to have happened before the <b>answer</b> of the first op that saw the lease ended
/// (a 404 keepalive or get, a lease.ended observation such as a watch's delete of an attached key). So a violation is
/// proven only when that answer came before max(invoke of an acknowledged grant/keepalive) + TTL. Using the grant's
/// answer (complete) instead would accuse the service of the time the answer spent in flight; using the first 404's
/// invoke would accuse it of time the request spent in flight.</para>
/// Also: an ended lease never comes back (a keepalive sent after the end was seen must not succeed). A lease revoked by
/// the workload (lease.revoke sent before the end was seen) is not judged.
/// </summary>
public static class LeasesChecker
{
    public const string Name = "leases";

    public static Verdict Check(History history, LeaseCheckOptions? options = null)
    {
        options ??= new LeaseCheckOptions();
        var meta = history.Meta;
        var problems = new List<string>();
        var ops = 0;
        long judged = 0, revoked = 0, neverEnded = 0;
        var leaseOps = history.Ops.Where(o => o.Kind.StartsWith("lease.", StringComparison.Ordinal) && o.Lease is not null).GroupBy(o => o.Lease!);
        foreach (var lease in leaseOps)
        {
            var list = lease.ToList();
            ops += list.Count;
            var grant = list.FirstOrDefault(o => o.Kind == OpKinds.LeaseGrant && o.Outcome == Outcome.Ok && o.TtlMs is not null);
            if (grant is null)
            {
                continue;
            }

            var endSeen = list.Where(o => o.Kind == OpKinds.LeaseEnded || (o.Status == 404 && o.Kind != OpKinds.LeaseGrant))
                .Select(o => (Op: o, At: o.Complete ?? o.Invoke)).OrderBy(e => e.At).FirstOrDefault();
            if (endSeen.Op is null)
            {
                neverEnded++;
                continue;
            }

            if (list.Any(o => o.Kind == OpKinds.LeaseRevoke && o.Outcome != Outcome.Fail && o.Invoke <= endSeen.At))
            {
                revoked++;
                continue;
            }

            judged++;
            var renewals = list.Where(o => (o.Kind == OpKinds.LeaseGrant || o.Kind == OpKinds.LeaseKeepalive) && o.Outcome == Outcome.Ok && o.Status != 404).ToList();
            if (renewals.Where(o => o.Invoke <= endSeen.At).MaxBy(o => o.Invoke) is not { } lastRenewal)
            {
                continue;
            }

            var ttl = meta.Ticks(TimeSpan.FromMilliseconds(lastRenewal.TtlMs ?? grant.TtlMs!.Value));
            var bound = lastRenewal.Invoke + ttl - (long)(ttl * options.ClockRateTolerance);
            if (endSeen.At < bound)
            {
                problems.Add($"lease {lease.Key} (TTL {lastRenewal.TtlMs ?? grant.TtlMs} ms) was seen ended at {meta.Seconds(endSeen.At):F3}s by {endSeen.Op.Describe(meta)}, "
                    + $"{meta.Seconds(bound - endSeen.At) * 1000:F0} ms before its TTL could have run out after {lastRenewal.Describe(meta)} (sent at {meta.Seconds(lastRenewal.Invoke):F3}s)");
            }

            var back = renewals.FirstOrDefault(o => o.Kind == OpKinds.LeaseKeepalive && o.Invoke > endSeen.At);
            if (back is not null)
            {
                problems.Add($"lease {lease.Key} came back after it was seen ended at {meta.Seconds(endSeen.At):F3}s: {back.Describe(meta)}");
            }
        }

        var counts = new Dictionary<string, long> { ["judged"] = judged, ["revoked"] = revoked, ["neverSeenEnding"] = neverEnded };
        return (problems.Count > 0 ? Verdict.Violation(Name, ops, string.Join("\n", problems)) : Verdict.Ok(Name, ops)) with { Counts = counts };
    }
}
