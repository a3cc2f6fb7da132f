using System.Net;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Orleans.Dashboard;
using OrleansCompute.Grains.Data;
using OrleansCompute.Grains.Data.Placement;
using OrleansCompute.Grains.Jobs;
using OrleansCompute.Observability;

namespace OrleansCompute.Silo.Observability;

/// <summary>
/// The silo's metrics, traces and logs (docs/observability.md), and the Orleans dashboard's
/// exposure. Everything is served on <c>Silo:HealthPort</c>.
/// </summary>
public static class SiloTelemetry
{
    /// <summary>The meter Npgsql publishes its connection-pool and command instruments on.</summary>
    public const string NpgsqlMeterName = "Npgsql";

    /// <summary>Registers OpenTelemetry with the silo's meters, and PostgreSQL spans and metrics.</summary>
    public static void AddSiloTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<KvMetrics>();
        builder.Services.AddSingleton<JobMetrics>();
        builder.AddComputeTelemetry("orleans-compute-silo",
            metrics => metrics.AddMeter(TaskRunner.MeterName, ShardRebalancer.MeterName, KvMetrics.MeterName, NpgsqlMeterName),
            tracing => tracing.AddNpgsql());
    }

    /// <summary>
    /// <c>/metrics</c>, and <c>/dashboard</c>: the Orleans dashboard has no authentication, so it
    /// answers only clients on this machine (loopback) unless <c>Dashboard:AllowRemote</c> is true,
    /// and not at all when <c>Dashboard:Enabled</c> is false.
    /// </summary>
    public static void MapSiloObservability(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        if (string.Equals(app.Configuration["Dashboard:Enabled"], "false", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var allowRemote = string.Equals(app.Configuration["Dashboard:AllowRemote"], "true", StringComparison.OrdinalIgnoreCase);
        app.Use(async (context, next) =>
        {
            if (!DashboardAnswers(context, allowRemote))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context);
        });
        app.MapOrleansDashboard("/dashboard");
    }

    /// <summary>False for a request to the dashboard from another machine, unless remote clients are allowed.</summary>
    public static bool DashboardAnswers(HttpContext context, bool allowRemote) =>
        allowRemote
        || !context.Request.Path.StartsWithSegments("/dashboard")
        || context.Connection.RemoteIpAddress is not { } remote
        || IPAddress.IsLoopback(remote);

    /// <summary>The silo's PostgreSQL data source; its name labels the Npgsql pool metrics instead of the connection string.</summary>
    public static NpgsqlDataSource DataSource(string connectionString)
    {
        var source = new NpgsqlDataSourceBuilder(connectionString) { Name = "orleans-compute" };
        return source.Build();
    }
}
