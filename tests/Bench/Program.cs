using System.Runtime.InteropServices;
using OrleansCompute.Bench;

// The benchmark harness (SPEC §6): measures the Api's KV store and the baselines side by side
// with one load generator, prints a table and the SPEC §6 ratios, optionally writes JSON.
Options options;
try
{
    options = Options.Parse(args);
}
catch (OptionsException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    Console.Error.WriteLine(Options.Usage);
    return 2;
}

if (options.Help)
{
    Console.WriteLine(Options.Usage);
    return 0;
}

using var cancel = new CancellationTokenSource();
// First Ctrl-C (or SIGTERM): stop measuring, clean up (drop the table, stop etcd) and report
// what was measured. A second Ctrl-C ends the process at once.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !cancel.IsCancellationRequested;
    cancel.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cancel.Cancel();
});

var progress = ProgressDisplay.ForConsole();
progress.WriteLine(Report.Header(options));
var session = new BenchSession(options, progress);
var startedAt = DateTimeOffset.UtcNow;
var exitCode = 0;
try
{
    await session.RunAsync(cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    progress.WriteLine("interrupted: reporting what was measured so far");
    exitCode = 130;
}

var report = new Report(options, session, startedAt, DateTimeOffset.UtcNow);
report.Print(Console.Out);
if (options.JsonPath is { } jsonPath)
{
    await report.WriteJsonAsync(jsonPath, CancellationToken.None);
    Console.WriteLine($"JSON: {Path.GetFullPath(jsonPath)}");
}

if (exitCode == 0 && session.Results.Count == 0)
{
    exitCode = 1;
}

return exitCode;
