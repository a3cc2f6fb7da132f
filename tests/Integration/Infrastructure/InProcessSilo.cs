using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using OrleansCompute.Grains.Data;
using OrleansCompute.Silo;
using OrleansCompute.Silo.Health;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>
/// A silo hosted in the test process through the product's own <see cref="SiloApp.Build"/>, so it
/// runs exactly the providers, schema and options users run: real TCP between silos, real PostgreSQL
/// (or SQLite) storage, membership and reminders.
/// </summary>
public sealed class InProcessSilo : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private InProcessSilo(WebApplication app, int siloPort, int gatewayPort)
    {
        _app = app;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public IServiceProvider Services => _app.Services;

    public bool IsReady => Services.GetRequiredService<SiloReadiness>().IsReady;

    public IGrainFactory Grains => Services.GetRequiredService<IGrainFactory>();

    /// <summary>
    /// The settings of an embedded-mode cluster (SQLite in a new temporary folder named from
    /// <paramref name="name"/>, no PostgreSQL) whose primary silo listens on <paramref name="primaryPort"/>.
    /// </summary>
    public static Dictionary<string, string?> EmbeddedSettings(string name, int primaryPort) => new()
    {
        ["ConnectionStrings:Postgres"] = "",
        ["Storage:Path"] = Directory.CreateTempSubdirectory($"oc-{name}-").FullName,
        ["Orleans:ClusterId"] = $"{name}-{Guid.NewGuid():N}",
        ["Orleans:PrimarySiloPort"] = primaryPort.ToString(),
    };

    /// <summary>
    /// Starts a silo; <paramref name="settings"/> override the environment (keys in "Section:Key" form)
    /// and <paramref name="services"/> may substitute test doubles (fault injection) for product services.
    /// </summary>
    public static async Task<InProcessSilo> StartAsync(
        IReadOnlyDictionary<string, string?> settings, int? siloPort = null, int? gatewayPort = null, TimeProvider? dataClock = null,
        Action<IServiceCollection>? services = null)
    {
        var port = siloPort ?? Ports.Free();
        gatewayPort ??= Ports.Free();
        var all = new Dictionary<string, string?>(settings)
        {
            ["Orleans:SiloPort"] = port.ToString(),
            ["Orleans:GatewayPort"] = gatewayPort.ToString(),
            ["Orleans:AdvertisedIP"] = "127.0.0.1",
            ["Silo:HealthPort"] = "0",
            ["Silo:Name"] = $"test-silo-{port}",
            // A silo the test cluster votes dead must not end the test process with it.
            ["Silo:ExitWhenDeclaredDead"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans.Runtime.MembershipService"] = "Warning",
            ["Logging:LogLevel:Orleans.Runtime.Silo"] = "Warning",
        };
        var app = SiloApp.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(all);
            if (dataClock is not null)
            {
                builder.Services.AddKeyedSingleton(KeyValueOptions.ClockKey, dataClock);
            }

            // Runs before the product registers its services: a test's substitute for a TryAdd registration wins.
            services?.Invoke(builder.Services);
        });
        await app.StartAsync();
        return new InProcessSilo(app, port, gatewayPort.Value);
    }

    /// <summary>Graceful stop: the silo leaves the membership and hands its grains over.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _app.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }
}
