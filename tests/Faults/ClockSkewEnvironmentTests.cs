using System.Diagnostics;
using OrleansCompute.Tests.Faults.Harness;

namespace OrleansCompute.Tests.Faults;

/// <summary>
/// The clock-skew fault steps a silo's wall clock and nothing else: under the harness's libfaketime
/// environment a .NET process sees the skewed wall clock, and its timed waits still wait.
/// </summary>
public class ClockSkewEnvironmentTests
{
    [Fact]
    public async Task A_skewed_process_sees_the_offset_and_its_sleeps_still_sleep()
    {
        var clockFile = Path.Combine(Path.GetTempPath(), $"oc-faketime-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(clockFile, "-30s\n");
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add(typeof(Program).Assembly.Location);
            start.ArgumentList.Add("--timed-waits");
            foreach (var (name, value) in FaultCluster.SkewableClock(FaultCluster.FindLibFaketime(), clockFile))
            {
                start.Environment[name] = value;
            }

            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(deadline.Token);
            var now = DateTime.UtcNow;

            Assert.Equal(0, process.ExitCode);
            var parts = output.Trim().Split(' ');
            var sleeps = int.Parse(parts[0]);
            var skewed = new DateTime(long.Parse(parts[1]), DateTimeKind.Utc);
            // Ten sleeps of 100 ms fill the second; a wait that returns at once would make it a thousand.
            Assert.InRange(sleeps, 2, 11);
            Assert.InRange((skewed - now).TotalSeconds, -35, -25);
        }
        finally
        {
            File.Delete(clockFile);
        }
    }
}
