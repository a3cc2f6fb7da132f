using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Deploy;

/// <summary>There is no Docker engine to run the compose file here, so the test proves it is valid and complete.</summary>
public class ComposeFileTests
{
    [Fact]
    public async Task Compose_file_is_valid_and_runs_postgres_migrate_three_silos_and_the_api()
    {
        var compose = Path.Combine(Repository.Root, "deploy", "docker-compose.yml");
        var start = new System.Diagnostics.ProcessStartInfo("docker-compose")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "-f", compose, "config", "--services" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)
            ?? throw new InvalidOperationException("docker-compose did not start; ./tests/run.sh installs it (Debian package docker-compose).");
        var services = await process.StandardOutput.ReadToEndAsync();
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, $"docker-compose config failed: {errors}");
        Assert.Equal(
            ["api", "migrate", "postgres", "silo1", "silo2", "silo3"],
            services.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));
    }
}
