using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Data;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Api.Errors;

/// <summary>
/// The one place where exceptions become answers. Bad input becomes a 4xx problem that says what
/// is wrong; an unreachable cluster a 503 with Retry-After; anything else a 500 that carries the
/// trace id and is logged here, with the stack trace kept on the server.
/// </summary>
public sealed partial class ProblemExceptionHandler(
    IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // A cancellation the caller did not ask for is the cluster giving up on the call (Orleans
        // cancels directory lookups while a dead silo is being declared dead): answer it as a
        // timeout, a 503 that may be retried, never a 500. So is the Api giving up at the answer
        // bound (docs/reliability.md): only the caller's own abort is not.
        if (exception is OperationCanceledException && !RequestDeadlines.ClientAborted(httpContext))
        {
            exception = new TimeoutException(RequestDeadlines.AnswerBoundReached(httpContext)
                ? "The cluster did not answer within the Api's answer bound."
                : "The cluster cancelled the call.", exception);
        }

        // A database exception that the silo's StoreFaultFilter never saw (one thrown while a grain
        // activated, which no call filter wraps) arrives as itself or inside Orleans' own: the store
        // failed, and it is answered as StoreFaultFilter would have had it answered.
        if (exception is not StoreUnavailableException && IsStoreFault(exception))
        {
            exception = new StoreUnavailableException("The database failed while the request ran.");
        }

        var problem = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => new ProblemDetails
            {
                Status = StatusCodes.Status413PayloadTooLarge,
                Type = ProblemTypes.BodyTooLarge,
                Title = "Request body too large",
                Detail = exception.Message,
            },
            // The handler runs with the endpoint cleared; the feature keeps the one that failed.
            BadHttpRequestException bad => BodyErrors.Describe(bad, (httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint())
                ?.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>()?.RequestType),
            // Dropped unapplied because its deadline passed before it staged or committed: a retry is safe.
            DeadlineExceededException => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = ProblemTypes.DeadlineExceeded,
                Title = "Deadline exceeded",
                Detail = exception.Message + " Nothing was changed; retry after the time in the Retry-After header.",
            },
            // A write that timed out may have been applied: say so rather than "unavailable".
            TimeoutException when !HttpMethods.IsGet(httpContext.Request.Method) => OutcomeUnknown("The cluster did not answer in time; the write may or may not have been applied. Read before retrying a conditional write."),
            ShardUnavailableException { OutcomeUnknown: true } => OutcomeUnknown(exception.Message + " Read the key to find out before retrying a conditional write."),
            ShardUnavailableException => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = ProblemTypes.ClusterUnavailable,
                Title = "Shard unavailable",
                Detail = exception.Message,
            },
            StoreUnavailableException when !HttpMethods.IsGet(httpContext.Request.Method) => OutcomeUnknown(
                exception.Message + " The request may or may not have been applied: read before retrying, or retry a job submission with the same Idempotency-Key."),
            StoreUnavailableException => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = ProblemTypes.ClusterUnavailable,
                Title = "Store unavailable",
                Detail = exception.Message + " Nothing was changed; retry after the time in the Retry-After header.",
            },
            _ when ClusterFaults.IsUnavailable(exception) => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = ProblemTypes.ClusterUnavailable,
                Title = "Cluster unavailable",
                Detail = "The cluster could not be reached. Retry after the time in the Retry-After header.",
            },
            _ => new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Type = ProblemTypes.Internal,
                Title = "Unexpected error",
                Detail = "The server failed to handle the request. Quote the traceId when reporting it.",
            },
        };

        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = ClusterFaults.RetryAfterSeconds.ToString();
            LogClusterUnavailable(httpContext.Request.Path, exception.GetType().Name, exception.Message);
        }
        else if (problem.Status >= StatusCodes.Status500InternalServerError)
        {
            LogUnexpected(exception, httpContext.Request.Method, httpContext.Request.Path);
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        });
    }

    /// <summary>A write that may or may not have been applied: the one answer that tells the caller to read before retrying.</summary>
    private static ProblemDetails OutcomeUnknown(string detail) => new()
    {
        Status = StatusCodes.Status503ServiceUnavailable,
        Type = ProblemTypes.OutcomeUnknown,
        Title = "Outcome unknown",
        Detail = detail,
    };

    private static bool IsStoreFault(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is System.Data.Common.DbException)
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in {Method} {Path}")]
    private partial void LogUnexpected(Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster unavailable for {Path}: {Error}: {Message}")]
    private partial void LogClusterUnavailable(string path, string error, string message);
}
