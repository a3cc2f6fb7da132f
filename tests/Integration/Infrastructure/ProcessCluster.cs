using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>
/// Silos as separate processes on a database of their own, and the Api in-process in front of
/// them: a test can SIGKILL, SIGSTOP or restart every silo while the Api keeps its clients.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private ProcessCluster(string database, Dictionary<string, string> environment, ApiFactory api, HttpClient http)
    {
        Database = database;
        Environment = environment;
        Api = api;
        Http = http;
    }

    public string Database { get; }

    public IReadOnlyDictionary<string, string> Environment { get; }

    public List<SiloNode> Silos { get; } = [];

    public ApiFactory Api { get; }

    /// <summary>A client of the bootstrap admin key, waited on until the Api is connected.</summary>
    public HttpClient Http { get; }

    /// <param name="settings">More environment for every silo (configuration the test needs), on top of the defaults.</param>
    /// <param name="apiSettings">More configuration for the Api, on top of the defaults.</param>
    public static async Task<ProcessCluster> StartAsync(string purpose, int silos, IReadOnlyDictionary<string, string>? settings = null,
        IReadOnlyDictionary<string, string>? apiSettings = null)
    {
        var database = await TestDatabase.CreateAsync(purpose);
        var clusterId = $"{purpose}-{Guid.NewGuid():N}";
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["Orleans__ClusterId"] = clusterId,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging__LogLevel__OrleansCompute.Grains.Coordination"] = "Information",
        };
        foreach (var (name, value) in settings ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }

        var nodes = Enumerable.Range(0, silos).Select(_ => SiloNode.Start(environment)).ToList();
        try
        {
            await Task.WhenAll(nodes.Select(s => s.WaitReadyAsync()));
            var apiConfiguration = new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = database,
                ["Orleans:ClusterId"] = clusterId,
                ["RateLimit:RequestsPerSecond"] = "1000000",
            };
            foreach (var (name, value) in apiSettings ?? new Dictionary<string, string>())
            {
                apiConfiguration[name] = value;
            }

            var api = new ApiFactory(apiConfiguration);
            var cluster = new ProcessCluster(database, environment, api, await api.CreateReadyClientAsync());
            cluster.Silos.AddRange(nodes);
            return cluster;
        }
        catch
        {
            // Nothing owns the processes yet: a failed start must not leave silos running.
            foreach (var node in nodes)
            {
                await node.Process.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>The Api's cluster client, to name grains.</summary>
    public IGrainFactory Grains => Api.Services.GetRequiredService<IGrainFactory>();

    /// <summary>
    /// The silo that hosts <paramref name="grain"/>, from the grain directory; null when it is not active.
    /// Placement is resource-optimized, not random, so a test that needs a grain on the silo it kills asks.
    /// </summary>
    public async Task<SiloNode?> HostOfAsync(IAddressable grain)
    {
        var address = await Grains.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        return Silos.SingleOrDefault(s => address is not null && s.SiloPort == address.Endpoint.Port);
    }

    /// <summary>Another client of the Api with the admin key.</summary>
    public HttpClient NewClient() => Api.CreateClient();

    /// <summary>Starts <paramref name="count"/> more silos and waits until they are ready.</summary>
    public async Task StartSilosAsync(int count)
    {
        var nodes = Enumerable.Range(0, count).Select(_ => SiloNode.Start(Environment)).ToList();
        Silos.AddRange(nodes);
        await Task.WhenAll(nodes.Select(s => s.WaitReadyAsync()));
    }

    public void WriteTails(ITestOutputHelper output)
    {
        foreach (var silo in Silos)
        {
            output.WriteLine($"--- {silo.Name}: {silo.Process.SaveLog("coordination")}\n{silo.Process.Tail()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Api.DisposeAsync();
        foreach (var silo in Silos)
        {
            await silo.Process.DisposeAsync();
        }
    }
}
