using OrleansCompute.Tests.Faults.Harness;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.Faults;

/// <summary>
/// The CI run of #15: one round of every fault (isolation, silo partition, silo↔PostgreSQL
/// partition, one-way partition, loss and delay, a long pause, kill and restart, PostgreSQL
/// stopped 20 s, clock skew ±30 s) against every workload, with the checkers' verdicts asserted.
/// Times are reported, never asserted. The seed is printed; OC_FAULTS_SEED replays one.
/// </summary>
public class FaultMatrixTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_fault_against_every_workload_keeps_the_checkers_verdicts()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("OC_FAULTS_SEED"), out var s) ? s : Random.Shared.Next(1, 1_000_000);
        var directory = Path.Combine(Paths.Root, ".tmp", "test-logs", $"faults-seed-{seed}");
        RunResult result;
        try
        {
            result = await FaultRun.RunAsync(new RunOptions(seed, TimeSpan.FromMinutes(4), Quick: true, directory), output.WriteLine);
        }
        catch (Exception e)
        {
            output.WriteLine($"seed {seed}: the run failed; node logs in {directory}");
            throw new InvalidOperationException($"fault run with seed {seed} failed: {e.Message}", e);
        }

        output.WriteLine(await File.ReadAllTextAsync(result.ReportPath));
        Assert.True(result.Aborted is null, $"seed {seed}: the run stopped early: {result.Aborted}");
        var notOk = result.Results.Where(r => !r.Verdict.IsOk).Select(r => $"phase {r.Times.Plan.Phase} {r.Times.Plan.Describe()} × {r.Workload}: {r.Verdict.KindText}: {r.Verdict.Explanation}").ToList();
        Assert.True(notOk.Count == 0, $"seed {seed} (replay: OC_FAULTS_SEED={seed}); report {result.ReportPath}:\n" + string.Join("\n", notOk));
    }
}
