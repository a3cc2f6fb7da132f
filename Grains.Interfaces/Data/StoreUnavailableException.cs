namespace OrleansCompute.Data;

/// <summary>
/// The database failed under a grain call (unreachable, out of connections, a statement refused).
/// A read changed nothing; a write may or may not have been applied, since the failure may have
/// come after its commit was sent. Raised by the silo in place of the store's own exception, which
/// has no serializer on the Api side; the silo logs the original.
/// </summary>
[GenerateSerializer, Alias("oc.StoreUnavailableException")]
public sealed class StoreUnavailableException(string message) : Exception(message);
