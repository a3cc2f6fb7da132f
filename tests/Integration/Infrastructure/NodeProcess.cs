using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>
/// A silo or Api started as its own operating-system process from the built binaries, with a
/// clean environment of our choosing, so a test can SIGKILL or SIGTERM it like an operator would.
/// </summary>
public sealed partial class NodeProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int SigStop = 19;
    private const int SigCont = 18;

    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private NodeProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static NodeProcess Start(string name, string assemblyPath, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        if (!File.Exists(assemblyPath))
        {
            throw new FileNotFoundException($"{assemblyPath} is not built; run the tests through ./tests/run.sh, which builds first.");
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(assemblyPath)!,
        };
        start.ArgumentList.Add(assemblyPath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Nothing of the test runner's own configuration may leak into the node.
        foreach (var key in start.Environment.Keys.Where(k =>
                     k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) ||
                     k.StartsWith("Orleans__", StringComparison.Ordinal) ||
                     k.StartsWith("Silo__", StringComparison.Ordinal) ||
                     k.StartsWith("Storage__", StringComparison.Ordinal) ||
                     k.StartsWith("Auth__", StringComparison.Ordinal) ||
                     k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var node = new NodeProcess(name, process);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>The last lines the node printed, for failure messages.</summary>
    public string Tail(int lines = 40)
    {
        lock (_log)
        {
            return string.Join('\n', _log.ToString().Split('\n').TakeLast(lines));
        }
    }

    /// <summary>
    /// Writes everything the node printed to <c>.tmp/test-logs/</c> and returns the path: a failed
    /// multi-process test needs more than a tail to be read, and CI keeps the directory.
    /// </summary>
    public string SaveLog(string test)
    {
        var directory = Path.Combine(Repository.Root, ".tmp", "test-logs");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{test}-{Name}.log");
        lock (_log)
        {
            File.WriteAllText(path, _log.ToString());
        }

        return path;
    }

    /// <summary>kill -9: no goodbye, no flush; the cluster must find out on its own.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>kill -TERM: what an orchestrator sends before it stops a container.</summary>
    public void Terminate() => Signal(SigTerm, "TERM");

    private void Signal(int signal, string name)
    {
        if (SendSignal(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill -{name} {_process.Id} failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>kill -STOP: the process freezes mid-flight, as in a long GC pause, and still holds its sockets.</summary>
    public void Pause() => Signal(SigStop, "STOP");

    /// <summary>kill -CONT: a paused process goes on from where it stopped.</summary>
    public void Resume() => Signal(SigCont, "CONT");

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

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
