namespace OrleansCompute.Faults.Checkers;

/// <summary>Every checker, run on the ops of a history it has something to say about.</summary>
public static class Checks
{
    /// <summary>The verdicts of the checkers whose op kinds occur in the history (KV, bank, jobs, locks, leases, watch).</summary>
    public static IReadOnlyList<Verdict> All(History history, KvCheckOptions? kv = null)
    {
        var kinds = history.Ops.Select(o => o.Kind).ToHashSet(StringComparer.Ordinal);
        var verdicts = new List<Verdict>();
        if (kinds.Overlaps([OpKinds.KvGet, OpKinds.KvPut, OpKinds.KvDelete]))
        {
            verdicts.Add(KvLinearizabilityChecker.Check(history, kv));
        }

        if (kinds.Overlaps([OpKinds.BankInit, OpKinds.BankRead, OpKinds.BankTransfer]))
        {
            verdicts.Add(BankChecker.Check(history));
        }

        if (kinds.Overlaps([OpKinds.JobSubmit, OpKinds.JobResult, OpKinds.JobTasks]))
        {
            verdicts.Add(JobsChecker.Check(history));
        }

        if (kinds.Overlaps([OpKinds.LockAcquire, OpKinds.LockHold, OpKinds.LockWrite, OpKinds.LockRead]))
        {
            verdicts.Add(LocksChecker.Check(history));
        }

        if (kinds.Overlaps([OpKinds.LeaseGrant, OpKinds.LeaseKeepalive, OpKinds.LeaseEnded]))
        {
            verdicts.Add(LeasesChecker.Check(history));
        }

        if (kinds.Contains(OpKinds.WatchEvent))
        {
            verdicts.Add(WatchChecker.Check(history, new WatchCheckOptions { VersionAfterDelete = kv?.VersionAfterDelete ?? VersionAfterDelete.Reset }));
        }

        return verdicts;
    }
}
