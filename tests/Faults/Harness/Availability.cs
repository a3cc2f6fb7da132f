namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>
/// How long one key, lock or job stream went unserved in a phase, from its history alone: the
/// longest stretch after the fault began with no answered call (outcome ok), and how long after
/// the heal the first call sent after the heal was answered.
/// </summary>
public sealed record Unavailability(string Workload, string Resource, double LongestGapSeconds, double? RecoverySeconds, int Ops, int Unknown)
{
    public static List<Unavailability> Measure(IReadOnlyList<Op> ops, double faultStart, double healAt, double phaseEnd)
    {
        var result = new List<Unavailability>();
        foreach (var group in ops.GroupBy(o => (o.Workload, o.Resource)))
        {
            var served = group.Where(o => o.Outcome == Outcomes.Ok && o.Complete is not null)
                .Select(o => History.Seconds(o.Complete!.Value)).Where(t => t >= faultStart && t <= phaseEnd).OrderBy(t => t).ToList();
            var gap = 0.0;
            var last = faultStart;
            foreach (var t in served)
            {
                gap = Math.Max(gap, t - last);
                last = t;
            }

            gap = Math.Max(gap, phaseEnd - last);
            var firstAfterHeal = group.Where(o => o.Outcome == Outcomes.Ok && o.Complete is not null && History.Seconds(o.Invoke) >= healAt)
                .Select(o => History.Seconds(o.Complete!.Value)).DefaultIfEmpty(double.NaN).Min();
            result.Add(new Unavailability(group.Key.Workload, group.Key.Resource, gap,
                double.IsNaN(firstAfterHeal) ? null : Math.Max(0, firstAfterHeal - healAt),
                group.Count(), group.Count(o => o.Outcome == Outcomes.Unknown)));
        }

        return result;
    }
}
