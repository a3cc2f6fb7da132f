using Microsoft.Extensions.DependencyInjection;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>
/// A cluster of in-process silos on a database of its own, and the Api in front of it.
/// Silos can be stopped and started to exercise restarts.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly List<InProcessSilo> _silos = [];

    private PostgresCluster(string connectionString, string clusterId)
    {
        ConnectionString = connectionString;
        ClusterId = clusterId;
        Api = new ApiFactory(Settings);
    }

    /// <summary>The silos' data clock (expiry); tests move it to expire keys without touching Orleans' own time.</summary>
    public ManualClock Clock { get; } = new();

    /// <summary>The coordination grains' clock; tests step its wall time to show that leases ignore it.</summary>
    public ManualClock CoordinationClock { get; } = new();

    public string ConnectionString { get; }

    public string ClusterId { get; }

    public IReadOnlyList<InProcessSilo> Silos => _silos;

    public ApiFactory Api { get; }

    public IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ConnectionStrings:Postgres"] = ConnectionString,
        ["Orleans:ClusterId"] = ClusterId,
        ["Orleans:ServiceId"] = "orleans-compute-tests",
    };

    public static async Task<PostgresCluster> StartAsync(
        string purpose, int silos, string? database = null, IReadOnlyDictionary<string, string?>? siloSettings = null,
        Action<IServiceCollection>? services = null)
    {
        var cluster = new PostgresCluster(database ?? await TestDatabase.CreateAsync(purpose), $"test-{Guid.NewGuid():N}");
        await cluster.StartSilosAsync(silos, siloSettings, services);
        return cluster;
    }

    /// <summary>Starts silos together, the way a deployment rolls them out.</summary>
    public async Task StartSilosAsync(int count, IReadOnlyDictionary<string, string?>? extraSettings = null, Action<IServiceCollection>? services = null)
    {
        var settings = Settings.Concat(extraSettings ?? new Dictionary<string, string?>()).ToDictionary();
        void WithClocks(IServiceCollection collection)
        {
            collection.AddKeyedSingleton<TimeProvider>(OrleansCompute.Grains.Coordination.CoordinationClock.Key, CoordinationClock);
            services?.Invoke(collection);
        }

        var started = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => InProcessSilo.StartAsync(settings, dataClock: Clock, services: WithClocks)));
        _silos.AddRange(started);
    }

    public async Task StopSilosAsync()
    {
        await Task.WhenAll(_silos.Select(s => s.StopAsync()));
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        _silos.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await Api.DisposeAsync();
        await StopSilosAsync();
    }
}

/// <summary>The shared two-silo PostgreSQL cluster for tests that only need a cluster, not a fresh one.</summary>
public sealed class SharedClusterFixture : IAsyncLifetime
{
    public PostgresCluster? ClusterOrNull { get; private set; }

    public PostgresCluster Cluster => ClusterOrNull ?? throw new InvalidOperationException("The shared cluster did not start.");

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ClusterOrNull = await PostgresCluster.StartAsync("shared", silos: 2);
        Http = await Cluster.Api.CreateReadyClientAsync();
    }

    public async Task DisposeAsync()
    {
        if (ClusterOrNull is not null)
        {
            await ClusterOrNull.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SharedClusterCollection : ICollectionFixture<SharedClusterFixture>
{
    public const string Name = "shared two-silo PostgreSQL cluster";
}
