using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;

namespace OrleansCompute.Observability;

/// <summary>
/// Re-publishes Orleans' own counters and histograms in a form Prometheus' conventions accept,
/// under the meter <see cref="MeterName"/>: durations in seconds instead of milliseconds, and
/// label names in snake_case instead of Orleans' PascalCase (<c>ConnectionDirection</c>).
/// </summary>
/// <remarks>
/// OpenTelemetry views can rename an instrument and describe it, but cannot change its unit or its
/// tag names, and the Prometheus exporter appends the unit to the name: an Orleans histogram in
/// "ms" can only come out as <c>..._milliseconds</c>, which <c>promtool check metrics</c> rejects.
/// So the push instruments (counters, histograms) are listened to here and recorded again into
/// instruments of our own; <see cref="TelemetrySetup"/> drops the originals from the export.
/// Observable instruments (gauges) keep going through the SDK with a view that describes them.
/// One bridge per process, like Orleans' own meter, which is static.
/// </remarks>
public static class OrleansInstrumentBridge
{
    /// <summary>The meter of the re-published Orleans instruments.</summary>
    public const string MeterName = "OrleansCompute.Orleans";

    /// <summary>The meter Orleans publishes its instruments on.</summary>
    public const string OrleansMeterName = "Microsoft.Orleans";

    /// <summary>Bucket bounds for durations in seconds, from half a millisecond to half a minute.</summary>
    public static readonly IReadOnlyList<double> SecondsBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly Meter Meter = new(MeterName);
    private static readonly ConcurrentDictionary<string, string> SnakeNames = new(StringComparer.Ordinal);
    private static readonly Lock Gate = new();
    private static MeterListener? _listener;

    /// <summary>True when Orleans' instrument is one the bridge re-publishes (and the export drops).</summary>
    public static bool IsBridged(Instrument instrument) =>
        instrument.Meter.Name == OrleansMeterName && !instrument.IsObservable;

    /// <summary>Starts the bridge once per process; later calls do nothing.</summary>
    public static void EnsureStarted()
    {
        lock (Gate)
        {
            if (_listener is not null)
            {
                return;
            }

            var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (IsBridged(instrument) && Mirror.For(instrument) is { } mirror)
                {
                    l.EnableMeasurementEvents(instrument, mirror);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((Mirror)state!).Record(value, tags));
            listener.SetMeasurementEventCallback<int>((_, value, tags, state) => ((Mirror)state!).Record(value, tags));
            listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((Mirror)state!).Record(value, tags));
            listener.SetMeasurementEventCallback<float>((_, value, tags, state) => ((Mirror)state!).Record(value, tags));
            listener.SetMeasurementEventCallback<short>((_, value, tags, state) => ((Mirror)state!).Record(value, tags));
            listener.Start();
            _listener = listener;
        }
    }

    /// <summary>"ConnectionDirection" → "connection_direction"; names already in snake_case are kept.</summary>
    public static string SnakeCase(string name) => SnakeNames.GetOrAdd(name, static n =>
    {
        var text = new StringBuilder(n.Length + 4);
        for (var i = 0; i < n.Length; i++)
        {
            var c = n[i];
            if (char.IsUpper(c))
            {
                if (i > 0 && n[i - 1] != '_' && n[i - 1] != '.' && !char.IsUpper(n[i - 1]))
                {
                    text.Append('_');
                }

                text.Append(char.ToLowerInvariant(c));
            }
            else
            {
                text.Append(c is '-' or '.' ? '_' : c);
            }
        }

        return text.ToString();
    });

    /// <summary>Our instrument standing for one of Orleans'.</summary>
    private abstract class Mirror(double scale)
    {
        public static Mirror? For(Instrument source)
        {
            var milliseconds = source.Unit is "ms" or "milliseconds";
            var unit = milliseconds ? "s" : source.Unit;
            var scale = milliseconds ? 0.001 : 1.0;
            var description = OrleansInstrumentDescriptions.Describe(source);
            var type = source.GetType();
            if (!type.IsGenericType)
            {
                return null;
            }

            var definition = type.GetGenericTypeDefinition();
            if (definition == typeof(Counter<>))
            {
                return new CounterMirror(Meter.CreateCounter<double>(source.Name, unit, description), scale);
            }

            if (definition == typeof(UpDownCounter<>))
            {
                return new UpDownMirror(Meter.CreateUpDownCounter<double>(source.Name, unit, description), scale);
            }

            if (definition == typeof(Histogram<>))
            {
                var advice = milliseconds ? new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets } : null;
                return new HistogramMirror(Meter.CreateHistogram(source.Name, unit, description, tags: null, advice), scale);
            }

            return null;
        }

        // On Orleans' hot paths (a few per message): no boxing, no allocation for up to eight tags.
        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var renamed = new TagList();
            foreach (var tag in tags)
            {
                renamed.Add(SnakeCase(tag.Key), tag.Value);
            }

            Write(value * scale, renamed);
        }

        protected abstract void Write(double value, in TagList tags);
    }

    private sealed class CounterMirror(Counter<double> counter, double scale) : Mirror(scale)
    {
        protected override void Write(double value, in TagList tags) => counter.Add(value, tags);
    }

    private sealed class UpDownMirror(UpDownCounter<double> counter, double scale) : Mirror(scale)
    {
        protected override void Write(double value, in TagList tags) => counter.Add(value, tags);
    }

    private sealed class HistogramMirror(Histogram<double> histogram, double scale) : Mirror(scale)
    {
        protected override void Write(double value, in TagList tags) => histogram.Record(value, tags);
    }
}
