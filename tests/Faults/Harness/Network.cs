using System.Diagnostics;

namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>
/// The harness's own network (tests/Faults/netns.sh): a namespace per node on one bridge, in a
/// numbered slot so two runs can coexist. The slot is held by an exclusive lock on
/// /tmp/ocf-slots/N.lock for the life of this process, so a crashed run's namespaces are known
/// as leftovers (lock free) and removed by the next run.
/// </summary>
public sealed class Network : IDisposable
{
    public static readonly string[] Silos = ["s0", "s1", "s2"];

    private readonly FileStream _lock;

    private Network(int slot, FileStream held)
    {
        Slot = slot;
        _lock = held;
    }

    public int Slot { get; }

    public static string Script => Path.Combine(Paths.FaultsDirectory, "netns.sh");

    public string Namespace(string node) => $"ocf{Slot}-{node}";

    public string Address(string node) => node switch
    {
        "pg" => $"10.213.{Slot}.10",
        "s0" => $"10.213.{Slot}.11",
        "s1" => $"10.213.{Slot}.12",
        "s2" => $"10.213.{Slot}.13",
        "api" => $"10.213.{Slot}.20",
        _ => throw new ArgumentException($"unknown node {node}"),
    };

    public static Network Create()
    {
        if (Environment.UserName != "root" && geteuid() != 0)
        {
            throw new InvalidOperationException("The fault harness makes network namespaces and needs root (run ./tests/run.sh or tests/Faults/run.sh as root).");
        }

        Run("down-stale");
        Directory.CreateDirectory("/tmp/ocf-slots");
        for (var slot = 1; slot <= 250; slot++)
        {
            FileStream? held = null;
            try
            {
                held = new FileStream($"/tmp/ocf-slots/{slot}.lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                flock(held.SafeFileHandle.DangerousGetHandle().ToInt32(), LockExclusive | LockNonBlocking).ThrowIfLocked();
            }
            catch (IOException)
            {
                held?.Dispose();
                continue;
            }

            var network = new Network(slot, held);
            try
            {
                Run("up", slot.ToString());
                return network;
            }
            catch
            {
                network.Dispose();
                throw;
            }
        }

        throw new InvalidOperationException("no free network slot (250 runs at once?)");
    }

    /// <summary><paramref name="from"/> silently drops every packet it sends to each of <paramref name="to"/>.</summary>
    public void Drop(string from, params string[] to) => Run(["drop", Slot.ToString(), from, .. to]);

    /// <summary>Many one-way drops in one call (one script run, so a cut starts at once even on a loaded machine).</summary>
    public void Drop(IEnumerable<(string From, string To)> pairs) => Run(["drop-pairs", Slot.ToString(), .. pairs.SelectMany(p => new[] { p.From, p.To })]);

    public void Undrop(IEnumerable<(string From, string To)> pairs) => Run(["undrop-pairs", Slot.ToString(), .. pairs.SelectMany(p => new[] { p.From, p.To })]);

    public void Undrop(string from, params string[] to) => Run(["undrop", Slot.ToString(), from, .. to]);

    public void Throttle(string node, string rate) => Run("throttle", Slot.ToString(), node, rate);

    public void Heal() => Run("heal", Slot.ToString());

    public void Dispose()
    {
        try
        {
            Run("down", Slot.ToString());
        }
        finally
        {
            _lock.Dispose();
        }
    }

    public static void Run(params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(Script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"netns.sh {string.Join(' ', args)} failed ({process.ExitCode}): {error.Result}");
        }
    }

    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int flock(int fd, int operation);

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();
}

internal static class FlockResult
{
    public static void ThrowIfLocked(this int result)
    {
        if (result != 0)
        {
            throw new IOException("slot in use");
        }
    }
}
