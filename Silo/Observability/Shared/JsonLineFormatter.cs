using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace OrleansCompute.Observability;

/// <summary>
/// One JSON object per log line (<c>Logging:Format=json</c>): time, level, category, event id,
/// message, the message's named arguments, the exception, and the trace and span ids of the
/// current activity. Every line has <c>traceId</c>; it is null only for lines written outside any
/// request, grain call or job (start-up, timers). Text goes through <see cref="SecretMask"/>.
/// Scopes are left out: they carry nothing an operator needs that the ids do not, and could carry
/// whatever a library put in them.
/// </summary>
public sealed class JsonLineFormatter(SecretMask mask) : ConsoleFormatter(FormatterName)
{
    /// <summary>The formatter's name in ConsoleLoggerOptions.FormatterName.</summary>
    public const string FormatterName = "orleans-compute-json";

    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <inheritdoc />
    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        var activity = Activity.Current;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            json.WriteStartObject();
            json.WriteString("timestamp", DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("level", logEntry.LogLevel.ToString());
            json.WriteString("category", logEntry.Category);
            json.WriteNumber("eventId", logEntry.EventId.Id);
            if (logEntry.EventId.Name is { } eventName)
            {
                json.WriteString("eventName", eventName);
            }

            json.WriteString("message", mask.Apply(message));
            if (activity is not null)
            {
                json.WriteString("traceId", activity.TraceId.ToHexString());
                json.WriteString("spanId", activity.SpanId.ToHexString());
            }
            else
            {
                json.WriteNull("traceId");
            }

            if (logEntry.State is IReadOnlyList<KeyValuePair<string, object?>> arguments && arguments.Count > 1)
            {
                json.WriteStartObject("state");
                foreach (var (name, value) in arguments)
                {
                    if (name == "{OriginalFormat}")
                    {
                        continue;
                    }

                    switch (value)
                    {
                        case null:
                            json.WriteNull(name);
                            break;
                        case bool b:
                            json.WriteBoolean(name, b);
                            break;
                        case int or long or short or byte or uint:
                            json.WriteNumber(name, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                            break;
                        case double or float or decimal:
                            json.WriteNumber(name, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
                            break;
                        default:
                            json.WriteString(name, mask.Apply(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)));
                            break;
                    }
                }

                json.WriteEndObject();
            }

            if (logEntry.Exception is { } exception)
            {
                json.WriteString("exception", mask.Apply(exception.ToString()));
            }

            json.WriteEndObject();
        }

        textWriter.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        textWriter.Write(Environment.NewLine);
    }
}
