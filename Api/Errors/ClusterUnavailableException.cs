namespace OrleansCompute.Api.Errors;

/// <summary>The Api cannot reach the cluster, so it cannot serve the request; answered 503 with Retry-After.</summary>
public sealed class ClusterUnavailableException(string message) : Exception(message);
