using Orleans.Runtime;

namespace OrleansCompute.Silo.Health;

/// <summary>
/// Orleans' fatal-error handler, with one difference: when Orleans itself learns that the cluster
/// declared this silo dead, the silo leaves with <see cref="DeclaredDeadExit.ExitCode"/>, exactly
/// as when its shard lease renewal tells it first.
/// </summary>
/// <remarks>
/// Which of the two learns first is a race: the lease renewal every 400 ms, or Orleans' own table
/// read (every 5 s) and gossip. Orleans' default handler ends the process with
/// <c>Environment.FailFast</c> (SIGABRT, exit 134), and a supervisor that restarts only the exit
/// code meant for "start me again" (deploy/local/up.sh) then stopped the whole cluster
/// (docs/reliability.md, defect 10). Every other fatal error keeps Orleans' behaviour: log it and
/// fail fast, for a core dump and a supervisor that sees a crash. A silo hosted inside a test
/// process (<c>Silo:ExitWhenDeclaredDead=false</c>) is stopped instead, so a vote against it cannot
/// end the whole test run.
/// </remarks>
public sealed partial class DeclaredDeadFatalErrorHandler(ILogger<DeclaredDeadFatalErrorHandler> logger, IConfiguration configuration, IHostApplicationLifetime lifetime) : IFatalErrorHandler
{
    private readonly bool _exitWhenDeclaredDead = DeclaredDeadExit.IsEnabled(configuration);

    // As Orleans' own handler: a thread abort is how a thread is ended, not a failure.
    public bool IsUnexpected(Exception exception) => exception is not ThreadAbortException;

    public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null)
    {
        LogFatal(exception, sender, context);
        if (IsDeclaredDead(context))
        {
            if (_exitWhenDeclaredDead)
            {
                DeclaredDeadExit.Exit("Orleans read it from the membership table");
            }

            // A silo hosted inside a test process stops, and the test process lives on.
            lifetime.StopApplication();
            return;
        }

        Environment.FailFast($"Fatal error from {sender?.ToString() ?? "null"}: {context ?? "no context"}", exception);
    }

    /// <summary>
    /// Whether Orleans is stopping this silo because the membership table says it is dead (or a
    /// newer generation of it is alive). Orleans says so only in the context text of its call:
    /// every path goes through MembershipTableManager.KillMyselfLocally, which passes no exception.
    /// </summary>
    public static bool IsDeclaredDead(string? context) =>
        context?.StartsWith("I have been told I am dead", StringComparison.Ordinal) == true;

    [LoggerMessage(Level = LogLevel.Critical, Message = "Fatal error from {Sender}: {Context}")]
    private partial void LogFatal(Exception? exception, object? sender, string? context);
}
