using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace OrleansCompute.Api.Observability;

/// <summary>
/// <c>Metrics:Port</c>: <c>/metrics</c> on a listener of its own, so the public port need not
/// expose it and a network policy can open the metrics port to Prometheus only. A second, minimal
/// Kestrel server reads the Api's own meter provider; the public endpoints are untouched.
/// </summary>
public sealed class MetricsPortServer(MeterProvider meters, IConfiguration configuration, ILogger<MetricsPortServer> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _server;

    /// <summary>False when <c>Metrics:Enabled</c> is false: no /metrics anywhere.</summary>
    public static bool Enabled(IConfiguration configuration) =>
        !string.Equals(configuration["Metrics:Enabled"], "false", StringComparison.OrdinalIgnoreCase);

    /// <summary>The metrics port, or null to serve /metrics on the public port.</summary>
    public static int? Port(IConfiguration configuration)
    {
        var text = configuration["Metrics:Port"];
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return int.TryParse(text, out var port) && port is > 0 and <= 65535
            ? port
            : throw new InvalidOperationException($"Metrics:Port must be a TCP port number, not '{text}'.");
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!Enabled(configuration) || Port(configuration) is not { } port)
        {
            return;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenAnyIP(port, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.AddServerHeader = false;
        });
        _server = builder.Build();
        _server.UseOpenTelemetryPrometheusScrapingEndpoint(meters, predicate: null, path: "/metrics", configureBranchedPipeline: null, optionsName: null);
        _server.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        await _server.StartAsync(cancellationToken);
        logger.LogInformation("Metrics are served on port {Port} at /metrics, and not on the public port", port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
