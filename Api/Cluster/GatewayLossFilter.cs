namespace OrleansCompute.Api.Cluster;

/// <summary>
/// Ends a request's grain calls when a gateway of the cluster is lost while they are in flight.
/// A call the Orleans client sent through a silo that then died is never answered: the client
/// waits out its whole response timeout (30 s), also for grains that live on healthy silos, since
/// every call travels through some gateway. Measured with 20 clients and a SIGKILLed silo: the
/// cluster declared the silo dead after 2.3 s, yet a third of the keys waited 30 s for answers
/// that never came. With this filter such a call ends as soon as the client notices the lost
/// gateway and is answered 503 (outcome unknown for a write), so the client retries through a
/// live one. Calls through the other gateways end too; they were in flight at the moment of a
/// fault, and a definite 503 is better than a possible 30-second wait.
/// </summary>
public sealed class GatewayLossFilter(ClusterConnection connection) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var requestAborted = context.HttpContext.RequestAborted;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, connection.GatewayLost);
        for (var i = 0; i < context.Arguments.Count; i++)
        {
            if (context.Arguments[i] is CancellationToken)
            {
                context.Arguments[i] = linked.Token;
            }
        }

        try
        {
            return await next(context);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested && !requestAborted.IsCancellationRequested)
        {
            // Mapped like Orleans' own response timeout: 503, and outcome unknown for a write.
            throw new TimeoutException("A gateway of the cluster was lost while the request was in flight.");
        }
    }
}
