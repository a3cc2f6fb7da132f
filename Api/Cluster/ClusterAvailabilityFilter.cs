using OrleansCompute.Api.Errors;

namespace OrleansCompute.Api.Cluster;

/// <summary>
/// Answers every /v1 call with 503 and Retry-After while the cluster is unreachable, so callers
/// get an immediate, definite answer instead of a request that hangs until a grain call times out.
/// </summary>
public sealed class ClusterAvailabilityFilter(ClusterConnection connection) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (connection.IsConnected)
        {
            return await next(context);
        }

        context.HttpContext.Response.Headers.RetryAfter = ClusterFaults.RetryAfterSeconds.ToString();
        return TypedResults.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            type: ProblemTypes.ClusterUnavailable,
            title: "Cluster unavailable",
            detail: "No silo of the cluster is reachable from this Api instance yet. Retry after the time in the Retry-After header.");
    }
}
