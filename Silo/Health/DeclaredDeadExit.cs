using System.Runtime.InteropServices;
using OrleansCompute.Grains.Data;

namespace OrleansCompute.Silo.Health;

/// <summary>
/// Ends the process, with <see cref="ExitCode"/>, as soon as this silo learns that the cluster
/// declared it dead (its shard lease renewal is refused: <see cref="SiloLease.DeclaredDead"/>).
/// </summary>
/// <remarks>
/// A silo voted dead while cut off or paused cannot come back as itself: Orleans never lets a dead
/// silo generation rejoin, and the store refuses its lease, so every shard still activated on it
/// answers 503 for as long as it runs. The fault harness saw two such silos keep keys dark for the
/// rest of a run: clients and gateways still reached their activations after the partition healed.
/// Orleans stops such a silo too, but only when it reads the membership table or hears gossip,
/// which can be a minute away. So the silo exits at once, without a graceful stop (there is nothing
/// to hand over: its shards were taken over already), and its supervisor starts a fresh silo: the
/// restart policy of docker compose and Kubernetes, and the watch loop of deploy/local/up.sh.
/// Turned off (<c>Silo:ExitWhenDeclaredDead=false</c>) only for silos hosted inside a test process.
/// </remarks>
public sealed partial class DeclaredDeadExit(SiloLease lease, IConfiguration configuration, IHostApplicationLifetime lifetime) : BackgroundService
{
    /// <summary>EX_TEMPFAIL: the silo is fine, the cluster voted it out; start it again.</summary>
    public const int ExitCode = 75;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!IsEnabled(configuration))
        {
            return;
        }

        try
        {
            await lease.DeclaredDead.WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        // A silo leaving on SIGTERM records itself dead before its lease loop stops: that is a
        // graceful leave, which ends with exit code 0, not a vote.
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return;
        }

        Exit("its shard lease renewal was refused");
    }

    /// <summary>Whether this silo exits when declared dead (<c>Silo:ExitWhenDeclaredDead</c>, on by default).</summary>
    public static bool IsEnabled(IConfiguration configuration) => configuration.GetValue("Silo:ExitWhenDeclaredDead", true);

    /// <summary>
    /// Ends the process with <see cref="ExitCode"/> at once. Also called by
    /// <see cref="DeclaredDeadFatalErrorHandler"/> when Orleans learns of the vote first.
    /// </summary>
    public static void Exit(string howLearned)
    {
        // Straight to stderr: a logger's queue may never be flushed by what follows.
        Console.Error.WriteLine($"{DateTime.UtcNow:O} The cluster declared this silo dead (it was cut off or paused; {howLearned}); exiting with code {ExitCode} so that it is restarted as a new silo.");
        Console.Error.Flush();
        if (OperatingSystem.IsWindows())
        {
            Environment.FailFast("The cluster declared this silo dead.");
        }

        // _exit: no graceful stop, which could wait on peers that no longer talk to this silo.
        ExitNow(ExitCode);
    }

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void ExitNow(int status);
}
