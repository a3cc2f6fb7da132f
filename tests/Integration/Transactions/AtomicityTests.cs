using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Grains;
using OrleansCompute.Grains.Transactions.Storage;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Transactions;

/// <summary>
/// Atomicity under a storage failure between participants' writes: one participant's prepared
/// state is durable, then another's write fails. The transaction must leave none of its writes
/// applied, and the keys must work normally once the fault is gone.
/// </summary>
public sealed class AtomicityTests : IAsyncLifetime
{
    private readonly StorageFaults _faults = new();
    private PostgresCluster? _cluster;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        // The product's storage factory, wrapped by a test-only decorator; no product code path knows of it.
        _cluster = await PostgresCluster.StartAsync("atomic", silos: 2, services: services =>
            services.AddKeyedSingleton<ITransactionalStateStorageFactory>(StorageNames.Transactional, (sp, _) =>
                new FaultInjectingStorageFactory(ActivatorUtilities.CreateInstance<PostgresTransactionalStateStorageFactory>(sp), _faults)));
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
    public async Task A_failure_between_participants_writes_leaves_none_of_them_applied()
    {
        var table = await _http.NewTransactionalTableAsync(shards: 8);
        await _http.TxnOkAsync($$"""{"success":[{"op":"put","table":"{{table}}","key":"a","value":100},{"op":"put","table":"{{table}}","key":"b","value":100},{"op":"put","table":"{{table}}","key":"poison","value":100}]}""");
        const string marker = "/poison";
        var transfer = $$"""
            {"success":[{"op":"add","table":"{{table}}","key":"a","value":-10},
                        {"op":"add","table":"{{table}}","key":"b","value":5},
                        {"op":"add","table":"{{table}}","key":"poison","value":5}]}
            """;

        _faults.Arm(marker);
        var response = await _http.TxnAsync(transfer);

        Assert.True(response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.ServiceUnavailable,
            $"expected 409 or 503, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.True(_faults.OtherPreparesWritten > 0, "no other participant's prepared state was written before the injected failure");
        Assert.True(_faults.Injected > 0, "the fault was never injected");
        Assert.Equal("100", await _http.SettledValueAsync(table, "a"));
        Assert.Equal("100", await _http.SettledValueAsync(table, "b"));
        Assert.Equal("100", await _http.SettledValueAsync(table, "poison"));

        // The participants recover: with the fault gone, the same transaction commits, once.
        _faults.Disarm();
        await Eventually.WaitAsync(async () => (await _http.TxnAsync(transfer)).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "the transfer to commit once the fault is gone");
        Assert.Equal("90", await _http.ValueAsync(table, "a"));
        Assert.Equal("105", await _http.ValueAsync(table, "b"));
        Assert.Equal("105", await _http.ValueAsync(table, "poison"));
    }

    /// <summary>Which writes fail, and what happened: shared by every silo of the test's cluster.</summary>
    private sealed class StorageFaults
    {
        private volatile string? _marker;
        private TaskCompletionSource _otherPrepared = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _otherPrepares;
        private int _injected;

        public int OtherPreparesWritten => Volatile.Read(ref _otherPrepares);

        public int Injected => Volatile.Read(ref _injected);

        public void Arm(string marker)
        {
            _otherPrepared = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _marker = marker;
        }

        public void Disarm() => _marker = null;

        public bool Targets(string grainId) => _marker is { } marker && grainId.EndsWith(marker, StringComparison.Ordinal);

        public bool Armed => _marker is not null;

        public void PrepareWritten()
        {
            Interlocked.Increment(ref _otherPrepares);
            _otherPrepared.TrySetResult();
        }

        /// <summary>Fails the targeted write, but only once another participant's prepare is durable (or a deadline passed).</summary>
        public async Task FailAfterAnotherPrepareAsync()
        {
            await Task.WhenAny(_otherPrepared.Task, Task.Delay(TimeSpan.FromSeconds(5)));
            Interlocked.Increment(ref _injected);
            throw new InvalidOperationException("Injected storage failure (test).");
        }
    }

    private sealed class FaultInjectingStorageFactory(ITransactionalStateStorageFactory inner, StorageFaults faults) : ITransactionalStateStorageFactory
    {
        public ITransactionalStateStorage<TState> Create<TState>(string stateName, IGrainContext context)
            where TState : class, new() =>
            new FaultInjectingStorage<TState>(inner.Create<TState>(stateName, context), context.GrainId.ToString(), faults);
    }

    private sealed class FaultInjectingStorage<TState>(ITransactionalStateStorage<TState> inner, string grainId, StorageFaults faults)
        : ITransactionalStateStorage<TState>
        where TState : class, new()
    {
        public Task<TransactionalStorageLoadResponse<TState>> Load() => inner.Load();

        public async Task<string> Store(
            string? expectedETag, TransactionalStateMetaData metadata, List<PendingTransactionState<TState>>? statesToPrepare, long? commitUpTo, long? abortAfter)
        {
            var prepares = statesToPrepare is { Count: > 0 };
            if (prepares && faults.Targets(grainId))
            {
                await faults.FailAfterAnotherPrepareAsync();
            }

            var etag = await inner.Store(expectedETag, metadata, statesToPrepare, commitUpTo, abortAfter);
            if (prepares && faults.Armed && grainId.Contains("transactionalkey", StringComparison.OrdinalIgnoreCase))
            {
                faults.PrepareWritten();
            }

            return etag;
        }
    }
}
