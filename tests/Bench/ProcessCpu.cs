using System.Globalization;

namespace OrleansCompute.Bench;

/// <summary>
/// CPU time (user + system) of named processes, read from <c>/proc/PID/stat</c> at both edges of a
/// measured window. On two cores shared by the load generator, the Api, the silos, PostgreSQL and
/// a baseline, a throughput ratio is a ratio of CPU spent per operation; this says whose CPU it was.
/// A process named <c>postgres</c> counts with all its children (the backends and the WAL writer
/// are forked from the postmaster). Linux only: elsewhere it measures nothing.
/// </summary>
public sealed class ProcessCpu(IReadOnlyDictionary<string, int> processes)
{
    public const string Postgres = "postgres";
    public const string Harness = "harness";

    // USER_HZ, the unit of /proc's times: 100 on every Linux ABI .NET runs on.
    private const double TicksPerSecond = 100;

    /// <summary>
    /// Clock ticks so far of every named process (and the harness), by pid: the postmaster's backends
    /// each under their own pid, so one that connects or exits in the window is not mistaken for
    /// CPU spent or given back. A process that cannot be read (gone) is left out. Null off Linux.
    /// </summary>
    public IReadOnlyDictionary<string, Dictionary<int, long>>? Read()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var readings = new Dictionary<string, Dictionary<int, long>>(StringComparer.Ordinal);
        foreach (var (name, pid) in processes.Append(new(Harness, Environment.ProcessId)))
        {
            var pids = name == Postgres ? ChildrenOf(pid).Prepend(pid) : [pid];
            readings[name] = pids.Select(p => (Pid: p, Ticks: Ticks(p))).Where(r => r.Ticks is not null)
                .ToDictionary(r => r.Pid, r => r.Ticks!.Value);
        }

        return readings;
    }

    /// <summary>
    /// Microseconds of CPU per operation of each process between two readings: the ticks each pid
    /// read at the end spent since the start (all of them, for a pid that started in the window).
    /// A process none of whose pids was there at both readings (a silo the elastic workload killed) is left out.
    /// </summary>
    public static IReadOnlyDictionary<string, double>? PerOp(
        IReadOnlyDictionary<string, Dictionary<int, long>>? before, IReadOnlyDictionary<string, Dictionary<int, long>>? after, long ops)
    {
        if (before is null || after is null || ops <= 0)
        {
            return null;
        }

        return after.Where(p => before.TryGetValue(p.Key, out var start) && p.Value.Keys.Any(start.ContainsKey))
            .ToDictionary(
                p => p.Key,
                p => p.Value.Sum(t => t.Value - before[p.Key].GetValueOrDefault(t.Key)) / TicksPerSecond * 1_000_000 / ops,
                StringComparer.Ordinal);
    }

    private static long? Ticks(int pid) =>
        ProcStat.Read(pid) is { } fields ? ProcStat.Number(fields, ProcStat.UserTicks) + ProcStat.Number(fields, ProcStat.SystemTicks) : null;

    private static List<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            // A process that exited while we looked reads as null and is skipped.
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ProcStat.Read(pid) is { } fields
                && ProcStat.Number(fields, ProcStat.Parent) == parent)
            {
                children.Add(pid);
            }
        }

        return children;
    }
}
