using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>
/// A process started inside one of the harness's namespaces (<c>ip netns exec</c> execs, and so
/// does the <c>sh -c exec</c> that sends the output to a log file, so the pid we hold is the
/// node's own and a signal reaches it, never a wrapper).
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;

    private NodeProcess(string name, Process process, string log)
    {
        Name = name;
        _process = process;
        LogPath = log;
    }

    public string Name { get; }

    public string LogPath { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.HasExited ? _process.ExitCode : -1;

    /// <param name="user">run as this OS user (setpriv execs too), or null for root</param>
    public static NodeProcess Start(string name, string netns, string log, IReadOnlyDictionary<string, string> environment, string? user, params string[] command)
    {
        var start = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardInput = true };
        foreach (var arg in new[] { "netns", "exec", netns })
        {
            start.ArgumentList.Add(arg);
        }

        if (user is not null)
        {
            foreach (var arg in new[] { "setpriv", $"--reuid={user}", $"--regid={user}", "--init-groups", "--" })
            {
                start.ArgumentList.Add(arg);
            }
        }

        start.ArgumentList.Add("sh");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$OCF_LOG\" 2>&1 </dev/null");
        foreach (var arg in command)
        {
            start.ArgumentList.Add(arg);
        }

        // Nothing of the runner's own product configuration may leak into a node.
        foreach (var key in start.Environment.Keys.Where(k =>
                     k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || k.StartsWith("Orleans__", StringComparison.Ordinal) ||
                     k.StartsWith("Silo__", StringComparison.Ordinal) || k.StartsWith("Storage__", StringComparison.Ordinal) ||
                     k.StartsWith("Auth__", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) ||
                     k.StartsWith("FAKETIME", StringComparison.Ordinal) || k == "LD_PRELOAD").ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["OCF_LOG"] = log;
        File.AppendAllText(log, $"=== {DateTime.UtcNow:O} start {name}: {string.Join(' ', command)}\n");
        if (user is not null && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(log, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        }

        return new NodeProcess(name, Process.Start(start)!, log);
    }

    public void Signal(int signal)
    {
        if (!_process.HasExited && kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {_process.Id} ({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Kill() => Signal(SigKill);

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public string Tail(int lines = 30)
    {
        try
        {
            return string.Join('\n', File.ReadLines(LogPath).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            kill(_process.Id, SigCont);
            kill(_process.Id, SigKill);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }

    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigCont = 18;
    public const int SigStop = 19;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
