using System.Globalization;

namespace OrleansCompute.Bench;

/// <summary>
/// <c>/proc/PID/stat</c>, the fields after the command name: the name (field 2) may hold spaces and
/// parentheses, so they are counted from its last ')'. Index 0 is the state (field 3), 1 the parent
/// (field 4), 11 and 12 user and system time in clock ticks (fields 14 and 15).
/// </summary>
public static class ProcStat
{
    public const int State = 0;
    public const int Parent = 1;
    public const int UserTicks = 11;
    public const int SystemTicks = 12;

    /// <summary>The fields, or null when the process is gone or its stat cannot be read.</summary>
    public static string[]? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 1)..].TrimStart().Split(' ');
            return fields.Length > SystemTicks ? fields : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Field <paramref name="index"/> as a number, or 0 when it is missing or not one.</summary>
    public static long Number(string[] fields, int index) =>
        long.TryParse(fields[index], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
}
