using System.Net;

namespace OrleansCompute.Client;

/// <summary>
/// A problem answer (RFC 9457) from the Api: what went wrong, as the server said it. <see cref="Errors"/>
/// maps each invalid field to its messages; <see cref="RetryAfter"/> is set when the server says when to retry.
/// </summary>
public sealed class OrleansComputeException(
    HttpStatusCode status, string? type, string? title, string? detail,
    IReadOnlyDictionary<string, string[]> errors, string? traceId, TimeSpan? retryAfter)
    : Exception(Describe(status, title, detail, errors))
{
    public HttpStatusCode Status { get; } = status;

    /// <summary>The problem type URI, e.g. <c>urn:orleans-compute:problem:precondition-failed</c>.</summary>
    public string? Type { get; } = type;

    public string? Title { get; } = title;

    public string? Detail { get; } = detail;

    public IReadOnlyDictionary<string, string[]> Errors { get; } = errors;

    public string? TraceId { get; } = traceId;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The last word of <see cref="Type"/>: <c>not-found</c>, <c>precondition-failed</c>, <c>validation</c>...</summary>
    public string? Kind => Type?[(Type.LastIndexOf(':') + 1)..];

    private static string Describe(HttpStatusCode status, string? title, string? detail, IReadOnlyDictionary<string, string[]> errors)
    {
        var text = $"{(int)status} {title ?? status.ToString()}";
        if (!string.IsNullOrEmpty(detail))
        {
            text += ": " + detail;
        }

        foreach (var (field, messages) in errors)
        {
            text += $" [{field}: {string.Join(" ", messages)}]";
        }

        return text;
    }
}
