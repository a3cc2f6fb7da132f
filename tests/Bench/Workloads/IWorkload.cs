namespace OrleansCompute.Bench.Workloads;

/// <summary>
/// One kind of request, repeated by the load runner. Implementations are shared by all load
/// loops at once, so <see cref="ExecuteOnceAsync"/> must be thread-safe; per-loop state comes in
/// through the loop's own <see cref="Random"/>.
/// </summary>
public interface IWorkload
{
    /// <summary>The name in reports, e.g. <c>kv-get-hot</c>.</summary>
    string Name { get; }

    /// <summary>Prepares data the workload needs (runs once, before the probe and warmup).</summary>
    Task SetupAsync(HttpClient client, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Sends one request and returns its HTTP status code; 2xx counts as success.</summary>
    ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken);

    /// <summary>Removes what <see cref="SetupAsync"/> made (runs once, after the last measurement).</summary>
    Task TeardownAsync(HttpClient client, CancellationToken cancellationToken) => Task.CompletedTask;
}
