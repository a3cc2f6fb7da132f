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

    /// <summary>CPU seconds so far of every named process (and the harness), or null where it cannot be read.</summary>
    public IReadOnlyDictionary<string, double>? Read()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var children = processes.TryGetValue(Postgres, out var postmaster) ? ChildrenOf(postmaster) : [];
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, pid) in processes.Append(new(Harness, Environment.ProcessId)))
        {
            var ticks = Ticks(pid);
            if (name == Postgres)
            {
                ticks += children.Sum(Ticks);
            }

            seconds[name] = ticks / TicksPerSecond;
        }

        return seconds;
    }

    /// <summary>Microseconds of CPU per operation of each process between two readings.</summary>
    public static IReadOnlyDictionary<string, double>? PerOp(IReadOnlyDictionary<string, double>? before, IReadOnlyDictionary<string, double>? after, long ops)
    {
        if (before is null || after is null || ops <= 0)
        {
            return null;
        }

        // A process that exited in the window (a silo the elastic workload killed) reads lower after: left out.
        return after.Where(p => before.TryGetValue(p.Key, out var start) && p.Value >= start)
            .ToDictionary(p => p.Key, p => (p.Value - before[p.Key]) * 1_000_000 / ops, StringComparer.Ordinal);
    }

    // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces, so count after its ')'.
    private static long Ticks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            // Gone (a backend that exited) or unreadable: it adds nothing.
            return 0;
        }
    }

    private static List<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText($"{directory}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == parent)
                {
                    children.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // Exited while we looked.
            }
        }

        return children;
    }
}
