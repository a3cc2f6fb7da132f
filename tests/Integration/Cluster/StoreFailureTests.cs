using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// A store fault reaches the client as a retryable 503, not a 500: the shard's Npgsql exception
/// (here PostgreSQL's "too many clients") has no codec on the Api side, so it must stay in the
/// silo's log. CI found it when the test server ran out of connections.
/// </summary>
public sealed class StoreFailureTests : IAsyncLifetime
{
    private readonly FailingStoreSwitch _failing = new();
    private PostgresCluster? _cluster;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        // The product's store, wrapped by a test-only decorator; no product code path knows of it.
        _cluster = await PostgresCluster.StartAsync("storefault", silos: 1, services: services =>
            services.AddSingleton<IKeyValueStore>(sp => new FailingStore(ActivatorUtilities.CreateInstance<PostgresKeyValueStore>(sp), _failing)));
        _http = await _cluster.Api.CreateReadyClientAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_shard_whose_store_refuses_connections_answers_503_with_retry_after_and_recovers()
    {
        Assert.Equal(HttpStatusCode.Created, (await _http.PutAsync("/v1/tables/faulty", Json("""{"shards": 1}"""))).StatusCode);
        _failing.On = true;

        var read = await _http.GetAsync("/v1/tables/faulty/keys/k");
        var write = await _http.PutAsync("/v1/tables/faulty/keys/k", Json("1"));

        foreach (var response in new[] { read, write })
        {
            var problem = await AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Contains("nothing was changed", problem.GetProperty("detail").GetString());
        }

        _failing.On = false;
        Assert.Equal(HttpStatusCode.Created, (await _http.PutAsync("/v1/tables/faulty/keys/k", Json("1"))).StatusCode);
        Assert.Equal("1", await _http.GetStringAsync("/v1/tables/faulty/keys/k"));
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    private sealed class FailingStoreSwitch
    {
        public volatile bool On;
    }

    /// <summary>Fails shard loads the way PostgreSQL does when it has no connection left.</summary>
    private sealed class FailingStore(IKeyValueStore inner, FailingStoreSwitch failing) : IKeyValueStore
    {
        public Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, TimeSpan lease, CancellationToken cancellationToken) =>
            failing.On
                ? throw new PostgresException("sorry, too many clients already", "FATAL", "FATAL", "53300")
                : inner.OpenShardAsync(tableId, shard, lease, cancellationToken);

        public Task CommitAsync(Guid tableId, int shard, long epoch, TimeSpan lease, IReadOnlyList<RowWrite> writes, CancellationToken cancellationToken) =>
            inner.CommitAsync(tableId, shard, epoch, lease, writes, cancellationToken);

        public Task<bool> RenewLeaseAsync(Guid tableId, int shard, long epoch, TimeSpan lease, CancellationToken cancellationToken) =>
            inner.RenewLeaseAsync(tableId, shard, epoch, lease, cancellationToken);

        public Task ReleaseLeaseAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken) =>
            inner.ReleaseLeaseAsync(tableId, shard, epoch, cancellationToken);

        public Task MarkDroppedAsync(Guid tableId, int shards, CancellationToken cancellationToken) =>
            inner.MarkDroppedAsync(tableId, shards, cancellationToken);

        public Task<int> PurgeDroppedAsync(int batchSize, CancellationToken cancellationToken) =>
            inner.PurgeDroppedAsync(batchSize, cancellationToken);
    }
}
