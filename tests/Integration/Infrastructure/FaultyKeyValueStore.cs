using Npgsql;
using OrleansCompute.Grains.Data.Storage;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>What a <see cref="FaultyKeyValueStore"/> fails right now; tests flip the switches.</summary>
public sealed class StoreFaults
{
    /// <summary>Shard loads fail the way PostgreSQL does when it has no connection left.</summary>
    public volatile bool FailLoads;

    /// <summary>The silo's lease renewals fail, as when the silo cannot reach the database.</summary>
    public volatile bool FailSiloLeaseRenewals;

    /// <summary>Shard releases fail, as when the database is down while a shard's activation ends.</summary>
    public volatile bool FailShardReleases;

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _committedKeys = new();
    private volatile TaskCompletionSource? _commitGate;
    private volatile TaskCompletionSource _commitHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Every key a commit reached the store with, in order.</summary>
    public IReadOnlyCollection<string> CommittedKeys => _committedKeys;

    /// <summary>Completes once a commit is held at the gate of <see cref="HoldCommits"/>.</summary>
    public Task CommitHeld => _commitHeld.Task;

    /// <summary>From now on commits wait, as behind a paused store, until <see cref="ReleaseCommits"/>.</summary>
    public void HoldCommits()
    {
        _commitHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _commitGate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void ReleaseCommits() => Interlocked.Exchange(ref _commitGate, null)?.TrySetResult();

    internal async Task BeforeCommitAsync(IReadOnlyList<RowWrite> writes)
    {
        if (_commitGate is { } gate)
        {
            _commitHeld.TrySetResult();
            await gate.Task;
        }

        foreach (var write in writes)
        {
            _committedKeys.Enqueue(write.Key);
        }
    }
}

/// <summary>
/// The product's store behind a test-only decorator that fails on demand; no product code path
/// knows of it. Register it in a test silo's services before the product's own.
/// </summary>
public sealed class FaultyKeyValueStore(IKeyValueStore inner, StoreFaults faults) : IKeyValueStore
{
    public Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, string holder, TimeSpan patience, CancellationToken cancellationToken) =>
        faults.FailLoads ? throw TooManyClients() : inner.OpenShardAsync(tableId, shard, holder, patience, cancellationToken);

    public async Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, CancellationToken cancellationToken)
    {
        await faults.BeforeCommitAsync(writes);
        await inner.CommitAsync(tableId, shard, epoch, writes, cancellationToken);
    }

    public async Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, IReadOnlyList<LoggedChange> changes, long deadline, CancellationToken cancellationToken)
    {
        await faults.BeforeCommitAsync(writes);
        await inner.CommitAsync(tableId, shard, epoch, writes, changes, deadline, cancellationToken);
    }

    public Task<ChangeLogPage> ReadChangesAsync(Guid tableId, int shard, long after, long through, int limit, CancellationToken cancellationToken) =>
        inner.ReadChangesAsync(tableId, shard, after, through, limit, cancellationToken);

    public Task<int> SweepChangesAsync(DateTimeOffset olderThan, int batchSize, CancellationToken cancellationToken) =>
        inner.SweepChangesAsync(olderThan, batchSize, cancellationToken);

    public Task<bool> SealShardAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken) =>
        inner.SealShardAsync(tableId, shard, epoch, cancellationToken);

    public Task<bool> OwnsAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken) =>
        inner.OwnsAsync(tableId, shard, epoch, cancellationToken);

    public Task ReleaseShardAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken) =>
        faults.FailShardReleases ? throw TooManyClients() : inner.ReleaseShardAsync(tableId, shard, epoch, cancellationToken);

    public Task<bool> RenewSiloLeaseAsync(SiloLeaseHolder holder, TimeSpan lease, CancellationToken cancellationToken) =>
        faults.FailSiloLeaseRenewals ? throw TooManyClients() : inner.RenewSiloLeaseAsync(holder, lease, cancellationToken);

    public Task EndSiloLeaseAsync(SiloLeaseHolder holder, CancellationToken cancellationToken) =>
        inner.EndSiloLeaseAsync(holder, cancellationToken);

    public Task<IReadOnlyList<SiloLeaseState>> ReadSiloLeasesAsync(CancellationToken cancellationToken) =>
        inner.ReadSiloLeasesAsync(cancellationToken);

    public Task MarkDroppedAsync(Guid tableId, int shards, CancellationToken cancellationToken) =>
        inner.MarkDroppedAsync(tableId, shards, cancellationToken);

    public Task<int> PurgeDroppedAsync(int batchSize, CancellationToken cancellationToken) =>
        inner.PurgeDroppedAsync(batchSize, cancellationToken);

    private static PostgresException TooManyClients() => new("sorry, too many clients already", "FATAL", "FATAL", "53300");
}
