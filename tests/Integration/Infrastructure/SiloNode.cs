using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>A silo as a separate process (the published binary), for tests that SIGKILL or SIGTERM silos.</summary>
public sealed record SiloNode(string Name, int SiloPort, int HealthPort, NodeProcess Process, Stopwatch Started, int GatewayPort = 0)
{
    public static SiloNode Start(IReadOnlyDictionary<string, string> common) => Start(common, Ports.Free(), Ports.Free(), Ports.Free());

    /// <summary>A new process of this silo on the same ports, as a supervisor restarts a killed one: a new generation at the same endpoint.</summary>
    public SiloNode Restart(IReadOnlyDictionary<string, string> common) => Start(common, SiloPort, GatewayPort, HealthPort);

    private static SiloNode Start(IReadOnlyDictionary<string, string> common, int siloPort, int gatewayPort, int healthPort)
    {
        var name = $"proc-silo-{siloPort}";
        var process = NodeProcess.Start(name, Repository.Binary("Silo", "OrleansCompute.Silo.dll"), new Dictionary<string, string>(common)
        {
            ["Orleans__SiloPort"] = siloPort.ToString(),
            ["Orleans__GatewayPort"] = gatewayPort.ToString(),
            ["Silo__HealthPort"] = healthPort.ToString(),
            ["Silo__Name"] = name,
        });
        return new SiloNode(name, siloPort, healthPort, process, Stopwatch.StartNew(), gatewayPort);
    }

    public async Task<TimeSpan> WaitReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.WaitAsync(
            async () => Process.HasExited
                ? throw new InvalidOperationException($"{Name} exited with {Process.ExitCode}:\n{Process.Tail()}")
                : (await http.GetAsync($"http://127.0.0.1:{HealthPort}/health/ready")).IsSuccessStatusCode,
            // A deadline, not a time asserted: on the shared 2-core machine a silo took 90-100 s to start.
            TimeSpan.FromSeconds(300),
            $"{Name} ready");
        return Started.Elapsed;
    }

    /// <summary>The silo's membership status as <c>GET /v1/cluster</c> shows it, or null when the Api cannot say.</summary>
    public async Task<string?> StatusAsync(HttpClient api)
    {
        var response = await api.GetAsync("/v1/cluster");
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        var cluster = await response.Content.ReadFromJsonAsync<JsonElement>();
        return cluster.GetProperty("silos").EnumerateArray()
            .Where(s => s.GetProperty("name").GetString() == Name)
            .Select(s => s.GetProperty("status").GetString())
            .LastOrDefault();
    }

    /// <summary>Writes the last log lines of every process to the test output: what a failed multi-process test needs to be read.</summary>
    public static void WriteTails(Xunit.Abstractions.ITestOutputHelper output, IEnumerable<SiloNode> silos, NodeProcess api)
    {
        foreach (var silo in silos)
        {
            output.WriteLine($"--- {silo.Name}\n{silo.Process.Tail()}");
        }

        output.WriteLine($"--- api\n{api.Tail()}");
    }
}
