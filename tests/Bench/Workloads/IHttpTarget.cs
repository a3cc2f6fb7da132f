namespace OrleansCompute.Bench.Workloads;

/// <summary>
/// Something measured over HTTP with the harness's own load generator: the Api, or a baseline
/// server. Disposing it stops what it started and removes what it created.
/// </summary>
public interface IHttpTarget : IAsyncDisposable
{
    /// <summary>The name in reports: <c>kv</c>, <c>kestrel</c>, <c>etcd</c>.</summary>
    string Name { get; }

    /// <summary>The client every workload of this target uses (one connection pool, sized to the concurrency).</summary>
    HttpClient Client { get; }

    /// <summary>Whether its operations reach the PostgreSQL given with --pg, so commits per operation mean something.</summary>
    bool UsesPostgres { get; }

    IReadOnlyList<IWorkload> Workloads { get; }

    /// <summary>Processes it started itself whose CPU per operation is reported (etcd's server); none by default.</summary>
    IReadOnlyDictionary<string, int> Processes => new Dictionary<string, int>();
}
