using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansCompute.Api.Errors;

/// <summary>Recognises the errors that mean "the cluster could not be reached", as opposed to a bug.</summary>
public static class ClusterFaults
{
    /// <summary>Seconds a client should wait before retrying when the cluster is unreachable.</summary>
    public const int RetryAfterSeconds = 2;

    public static bool IsUnavailable(Exception exception) => exception switch
    {
        ClusterUnavailableException or SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException => true,
        // Orleans' own response timeout.
        TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsUnavailable),
        _ => false,
    };
}
