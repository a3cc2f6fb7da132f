using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using OrleansCompute.Observability;

namespace OrleansCompute.Api.Observability;

/// <summary>
/// The Api's metrics, traces and logs (docs/observability.md). <c>/metrics</c> is served on the
/// public port by default; <c>Metrics:Port</c> moves it to a port of its own (and off the public
/// one), and <c>Metrics:Enabled=false</c> turns it off.
/// </summary>
public static class ApiTelemetry
{
    /// <summary>Registers OpenTelemetry, the Api's meters, and the metrics port when one is set.</summary>
    public static void AddApiTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiMetrics>();
        builder.AddComputeTelemetry("orleans-compute-api",
            metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddMeter(ApiMetrics.MeterName),
            tracing => tracing.AddAspNetCoreInstrumentation(o =>
                // Scrapes and probes would be most of the traces, and say nothing.
                o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics") && !context.Request.Path.StartsWithSegments("/health")));
        builder.Services.AddHostedService<MetricsPortServer>();
    }

    /// <summary>Maps <c>/metrics</c> on the public port, unless it is off or has a port of its own.</summary>
    public static void MapApiMetrics(this WebApplication app)
    {
        if (MetricsPortServer.Enabled(app.Configuration) && MetricsPortServer.Port(app.Configuration) is null)
        {
            app.MapPrometheusScrapingEndpoint("/metrics");
        }
    }
}
