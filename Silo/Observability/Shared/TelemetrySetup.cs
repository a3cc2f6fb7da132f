using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace OrleansCompute.Observability;

/// <summary>
/// Metrics, traces and logs as the Api and the silo both set them up (docs/observability.md):
/// Prometheus text that <c>promtool check metrics</c> accepts, runtime and process metrics,
/// traces through Orleans' activity propagation (recorded only when they go somewhere), and
/// console logs as JSON lines when <c>Logging:Format</c> is <c>json</c>.
/// </summary>
public static class TelemetrySetup
{
    /// <summary>The ActivitySources of Orleans' grain calls.</summary>
    public static readonly string[] OrleansSources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];

    /// <summary>
    /// Registers OpenTelemetry for a process named <paramref name="serviceName"/>; the callbacks add
    /// what only that process has (its meters, its instrumentation).
    /// </summary>
    public static OpenTelemetryBuilder AddComputeTelemetry(
        this WebApplicationBuilder builder, string serviceName,
        Action<MeterProviderBuilder> metrics, Action<TracerProviderBuilder> tracing)
    {
        builder.AddComputeLogging();
        OrleansInstrumentBridge.EnsureStarted();
        return builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithMetrics(m =>
            {
                m.AddRuntimeInstrumentation()
                    .AddProcessInstrumentation()
                    .AddMeter(OrleansInstrumentBridge.OrleansMeterName, OrleansInstrumentBridge.MeterName)
                    .AddView(Describe)
                    .AddPrometheusExporter();
                metrics(m);
            })
            .WithTracing(t =>
            {
                t.AddSource(OrleansSources)
                    .AddProcessor(new RedactingProcessor())
                    // Traces cost an Activity per request and per grain call: sample them only when
                    // they go somewhere (an OTLP endpoint, or Tracing:Enabled for a test's exporter).
                    .SetSampler(sp => TracingEnabled(sp.GetRequiredService<IConfiguration>())
                        ? new ParentBasedSampler(new AlwaysOnSampler())
                        : new AlwaysOffSampler());
                if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
                {
                    t.AddOtlpExporter();
                }

                tracing(t);
            });
    }

    /// <summary>True when traces are recorded: an OTLP endpoint is set, or <c>Tracing:Enabled</c> is true.</summary>
    public static bool TracingEnabled(IConfiguration configuration) =>
        !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
        || string.Equals(configuration["Tracing:Enabled"], "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <c>Logging:Format=json</c>: one JSON object per line, with the trace id, and secrets masked
    /// (<see cref="JsonLineFormatter"/>). Anything else keeps the default console text.
    /// </summary>
    public static void AddComputeLogging(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SecretMask>();
        builder.Logging.AddConsoleFormatter<JsonLineFormatter, ConsoleFormatterOptions>();
        builder.Services.AddOptions<ConsoleLoggerOptions>().Configure<IConfiguration>((options, configuration) =>
        {
            if (string.Equals(configuration["Logging:Format"], "json", StringComparison.OrdinalIgnoreCase))
            {
                options.FormatterName = JsonLineFormatter.FormatterName;
            }
        });
    }

    // Orleans publishes no help text, PascalCase labels and milliseconds: its push instruments are
    // re-published by the bridge (so the originals are dropped here), its gauges get a description,
    // and its two memory gauges in megabytes are dropped (process_memory_usage_bytes says more).
    private static MetricStreamConfiguration? Describe(System.Diagnostics.Metrics.Instrument instrument)
    {
        if (instrument.Meter.Name != OrleansInstrumentBridge.OrleansMeterName)
        {
            // Prometheus reserves "_count" for histograms and summaries: the runtime's, the process'
            // and Npgsql's gauges named "*.count" become plurals (process_thread_count → process_threads).
            return instrument.Name.EndsWith(".count", StringComparison.Ordinal) && !IsHistogram(instrument)
                ? new MetricStreamConfiguration { Name = instrument.Name[..^".count".Length] + "s" }
                : null;
        }

        if (OrleansInstrumentBridge.IsBridged(instrument) || instrument.Unit is "MB" or "megabytes")
        {
            return MetricStreamConfiguration.Drop;
        }

        return new MetricStreamConfiguration { Description = OrleansInstrumentDescriptions.Describe(instrument) };
    }

    private static bool IsHistogram(System.Diagnostics.Metrics.Instrument instrument) =>
        instrument.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(System.Diagnostics.Metrics.Histogram<>);
}
