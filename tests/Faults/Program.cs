using OrleansCompute.Tests.Faults.Harness;

namespace OrleansCompute.Tests.Faults;

/// <summary>The soak: <c>tests/Faults/run.sh --minutes 30 --seed N</c> runs this. Exit 1 if a checker found a violation.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var minutes = 30.0;
        var seed = Random.Shared.Next(1, 1_000_000);
        var quick = false;
        string? output = null;
        string[]? only = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--minutes": minutes = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[++i]); break;
                case "--quick": quick = true; break;
                case "--out": output = args[++i]; break;
                case "--only": only = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--timed-waits":
                    // For ClockSkewEnvironmentTests: how many 100 ms sleeps fit in one second, and this process's wall clock.
                    var watch = System.Diagnostics.Stopwatch.StartNew();
                    var sleeps = 0;
                    while (watch.Elapsed < TimeSpan.FromSeconds(1) && sleeps < 1000)
                    {
                        Thread.Sleep(100);
                        sleeps++;
                    }

                    Console.WriteLine($"{sleeps} {DateTime.UtcNow.Ticks}");
                    return 0;
                case "--judge":
                    var judged = await FaultRun.JudgeAgainAsync(args[++i], Console.WriteLine);
                    Console.WriteLine(await File.ReadAllTextAsync(judged.ReportPath));
                    return judged.Violations.Any() ? 1 : 0;
                default:
                    Console.Error.WriteLine("usage: OrleansCompute.Tests.Faults [--minutes M] [--seed N] [--quick] [--out DIR] [--only FAULT,..] | --judge DIR");
                    return 2;
            }
        }

        output ??= Path.Combine(Paths.Root, ".tmp", "faults", $"seed-{seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        var result = await FaultRun.RunAsync(new RunOptions(seed, TimeSpan.FromMinutes(minutes), quick, output, only), Console.WriteLine);
        Console.WriteLine(await File.ReadAllTextAsync(result.ReportPath));
        return result.Violations.Any() || result.Aborted is not null ? 1 : 0;
    }
}
