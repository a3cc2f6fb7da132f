using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCompute.Coordination;
using OrleansCompute.Data;
using OrleansCompute.Deadlines;
using OrleansCompute.Grains.Data.Placement;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Grains.Storage;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// One shard of a table: the keys in memory, their rows in the store.
///
/// Writes are group-committed (<see cref="WriteCoalescer{T}"/>). A write is checked against the
/// shard's latest state (committed plus staged), staged, and acknowledged only when the commit that
/// carries it is durable; while a commit is in flight the next writes gather into the next one, so a
/// busy shard pays one commit for many writes. A failed commit fails everything staged
/// (<see cref="FlushFailure.FailAll"/>): memory is then ahead of the store, so the shard steps down. Reads of single keys are served from the committed state in memory.
///
/// The grain is reentrant so that writes can stage while a commit is in flight. That is safe
/// because every change to the in-memory state happens synchronously between awaits, on the
/// grain's own scheduler: staging (a check and an insert), and applying a finished commit.
///
/// The store fences every commit with the epoch this activation took when it opened the shard,
/// so if Orleans briefly runs a second activation, only the newest can commit; the stale one
/// fails its writes (nothing applied) and deactivates. Reads are guarded by the silo's lease
/// (<see cref="SiloLease"/>): the shard answers from memory only while its silo holds the lease,
/// and a new activation elsewhere takes over only once this one released the shard or the silo's
/// lease ran out, so a read never comes from an activation that can no longer commit.
///
/// A move (<see cref="MoveAsync"/>) is a handover between two live activations: Orleans stops
/// dispatching to this one, <see cref="OnDeactivateAsync"/> waits for the commit in flight and
/// releases the shard, and the activation on the new silo takes the next epoch and loads.
///
/// Fenced writes (<see cref="KvOp.Fence"/>, docs/coordination.md): per key and lock, the highest
/// token that wrote to it is kept, in memory and in the store with the key's commit, and outlives
/// the key itself. A write with a lower token is refused when it is staged, against the staged
/// state, so two fenced writes to one key apply in token order whatever their commits. A token must
/// also have been issued by the lock: the shard remembers the highest token each lock confirmed and
/// asks the lock grain only when a write carries a token above it, once per new token at most.
///
/// Deadlines (<see cref="RequestDeadline"/>, docs/reliability.md): a request whose deadline passed
/// is refused before it stages, and a commit group holding a write whose deadline passed is not
/// flushed (<see cref="WriteCoalescer{T}"/>); the shard then steps down, since its staged state is
/// ahead of the store, and the next activation reloads. Either way nothing is written, and the
/// caller hears <see cref="DeadlineExceededException"/>.
/// </summary>
[Reentrant]
[ShardPlacement]
public sealed partial class ShardGrain(
    IKeyValueStore store,
    [FromKeyedServices(KeyValueOptions.ClockKey)] TimeProvider clock,
    ILocalSiloDetails silo,
    SiloLease siloLease,
    LocalShards local,
    UnreleasedShards unreleased,
    ValueProtector protector,
    KvMetrics metrics,
    IOptions<KeyValueOptions> options,
    IOptions<Watch.WatchOptions> watchOptions,
    ILogger<ShardGrain> logger) : Grain, IShardGrain
{
    private readonly Dictionary<string, Entry> _committed = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _keys = new(KeyOrder.Instance);
    private readonly Dictionary<string, Staged> _staged = new(StringComparer.Ordinal);
    // Per key, the highest token per lock that wrote to it; raised when a fenced write is staged
    // (a failed commit breaks the shard, so memory ahead of the store is never served).
    private readonly Dictionary<string, Dictionary<string, long>> _fences = new(StringComparer.Ordinal);
    // Per lock, the highest token it confirmed having issued; only grows.
    private readonly Dictionary<string, long> _issued = new(StringComparer.Ordinal);

    private Guid _tableId;
    private int _shard;
    private bool _encrypted;
    private long _epoch;
    private bool _dropped;
    private bool _sealed;
    private string _tenant = "";
    private Exception? _broken;
    private Task? _opening;
    private int _checkedAtLapse = -1;
    private Task? _checking;

    private WriteCoalescer<RowWrite> _commits = null!;
    private ShardFigures _figures = null!;
    private long _appliedThrough;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var address = ShardMap.Parse(this.GetPrimaryKeyString());
        (_tenant, _tableId, _shard, _encrypted) = (address.Tenant, address.TableId, address.Shard, address.Encrypted);
        _commits = new WriteCoalescer<RowWrite>(CommitAsync, FlushFailure.FailAll);
        var period = options.Value.SweepPeriod;
        this.RegisterGrainTimer(ct => SweepExpiredAsync(ct), new GrainTimerCreationOptions(period, period) { Interleave = true });
        local.Add(this.GetPrimaryKeyString());
        _figures = metrics.Track(this.GetPrimaryKeyString(), _tenant, _tableId);
        // Load at once rather than on the first request: after a move, the shard is ready before
        // traffic reaches it. A failed load is retried by the next request (EnsureOpenAsync).
        _ = EnsureOpenAsync().ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
        return Task.CompletedTask;
    }

    public Task MoveAsync(CancellationToken cancellationToken = default)
    {
        // Long polls would keep the activation busy forever; they answer now and come back to the new one.
        ReleaseWatchers();
        // Placement picks the layout's silo; Orleans migrates when no request is running, or not at
        // all if placement picks this silo again.
        this.MigrateOnIdle();
        return Task.CompletedTask;
    }

    public async Task<KvResult> ExecuteAsync(KvOp op, CancellationToken cancellationToken = default)
    {
        await EnsureReadableAsync();
        if (_dropped)
        {
            return new KvResult(KvStatus.TableNotFound);
        }

        if (_sealed)
        {
            return new KvResult(KvStatus.Moved);
        }

        if (op.Kind == KvOpKind.Get)
        {
            // The hot path: committed state only, no waiting, no store.
            return _committed.TryGetValue(op.Key, out var entry) && IsLive(entry, clock.GetUtcNow())
                ? new KvResult(KvStatus.Ok, entry.Version, entry.Value, entry.ExpiresAt, entry.Revision)
                : new KvResult(KvStatus.NotFound);
        }

        return (await ExecuteBatchAsync([op], cancellationToken))[0];
    }

    public async Task<KvResult[]> ExecuteBatchAsync(KvOp[] ops, CancellationToken cancellationToken = default)
    {
        // First: nothing may be awaited between the checks below and staging.
        await ConfirmIssuedAsync(ops);
        await EnsureReadableAsync();
        if (_dropped)
        {
            return [.. ops.Select(_ => new KvResult(KvStatus.TableNotFound))];
        }

        if (_sealed)
        {
            // Refused whole, before anything is staged: the caller routes again and retries.
            return [.. ops.Select(_ => new KvResult(KvStatus.Moved))];
        }

        ThrowIfBroken();
        // Nothing is awaited from here to staging: a request past its deadline has no effect.
        RequestDeadline.ThrowIfPassed("nothing was read or written");
        var now = clock.GetUtcNow();
        var results = new KvResult[ops.Length];
        var waitFor = 0L;
        for (var i = 0; i < ops.Length; i++)
        {
            results[i] = Stage(ops[i], now, ref waitFor);
        }

        if (waitFor == 0)
        {
            return results;
        }

        // Answers that depend on staged writes stand only once those writes are durable.
        if (!await CommitOf(waitFor))
        {
            return [.. ops.Select(_ => new KvResult(KvStatus.TableNotFound))];
        }

        return results;
    }

    public async Task<KvScanPage> ScanAsync(string prefix, string? after, int limit, CancellationToken cancellationToken = default)
    {
        await EnsureReadableAsync();
        if (_dropped)
        {
            return new KvScanPage([], More: false, TableNotFound: true);
        }

        if (_sealed)
        {
            return new KvScanPage([], More: false, Moved: true);
        }

        var now = clock.GetUtcNow();
        var items = new List<KvItem>(Math.Min(limit, 64));
        var more = false;
        foreach (var key in KeysFrom(after is not null && KeyOrder.Instance.Compare(after, prefix) >= 0 ? after : prefix))
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal))
            {
                break;
            }

            if (key == after || !IsLive(_committed[key], now))
            {
                continue;
            }

            if (items.Count == limit)
            {
                more = true;
                break;
            }

            var entry = _committed[key];
            items.Add(new KvItem(key, entry.Value, entry.Version, entry.Revision));
        }

        return new KvScanPage(items, more);
    }

    public async Task<ShardInfo> DescribeAsync(CancellationToken cancellationToken = default)
    {
        await EnsureReadableAsync();
        var now = clock.GetUtcNow();
        return new ShardInfo(_shard, silo.SiloAddress.ToParsableString(), _committed.Values.LongCount(e => IsLive(e, now)));
    }

    public async Task<int> SweepExpiredAsync(CancellationToken cancellationToken = default)
    {
        if (_opening is null || _dropped || _sealed || _broken is not null)
        {
            return 0;
        }

        await EnsureOpenAsync();
        var now = clock.GetUtcNow();
        // Selected and staged in one turn, so nothing can rewrite a key in between.
        var expired = _committed.Where(pair => !IsLive(pair.Value, now) && !_staged.ContainsKey(pair.Key)).ToList();
        if (expired.Count == 0)
        {
            return 0;
        }

        var waitFor = 0L;
        foreach (var (key, entry) in expired)
        {
            StageDelete(key, entry, ref waitFor);
        }

        await CommitOf(waitFor);
        LogSwept(expired.Count, _tableId, _shard);
        return expired.Count;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        local.Remove(this.GetPrimaryKeyString());
        metrics.Forget(this.GetPrimaryKeyString(), _figures);
        // Hand the shard back: it is held under this silo's lease, so no activation on another silo
        // could open it while this silo lives. An open still under way takes the shard when it lands,
        // so it is let land first (or, if the deactivation gives up waiting, released once it has).
        if (_opening is { IsCompleted: false } opening)
        {
            try
            {
                await opening.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (!opening.IsCompleted)
            {
                _ = opening.ContinueWith(_ => ReleaseLater(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                return;
            }
            catch (ShardUnavailableException)
            {
                // A failed open holds nothing; OpenAsync logged why.
            }
        }

        if (_opening is { IsCompletedSuccessfully: true } && !_dropped)
        {
            try
            {
                // What was staged commits first: nothing acknowledged is left behind. A broken shard
                // has nothing left to commit, and its release is as safe: it names this epoch only.
                if (_broken is null)
                {
                    await _commits.WhenIdleAsync();
                }

                await store.ReleaseShardAsync(_tableId, _shard, _epoch, cancellationToken);
            }
            catch (Exception ex)
            {
                LogReleaseFailed(ex, _tableId, _shard);
                ReleaseLater();
            }
        }
    }

    private void ReleaseLater()
    {
        if (!_dropped)
        {
            unreleased.Add(_tableId, _shard, _epoch);
        }
    }

    public async Task HandOverAsync(Guid toId, int toShards, CancellationToken cancellationToken = default)
    {
        await EnsureOpenAsync();
        if (_dropped)
        {
            return;
        }

        if (!_sealed)
        {
            // Set before the first await: nothing is staged from here on, every call answers Moved.
            _sealed = true;
            ReleaseWatchers();
            await _commits.WhenIdleAsync();

            ThrowIfBroken();
            if (!await store.SealShardAsync(_tableId, _shard, _epoch, CancellationToken.None))
            {
                Break(new ShardFencedException($"shard {_tableId}/{_shard} was taken over by another activation", tableDropped: false));
                throw new ShardUnavailableException("The shard moved to another activation before it could hand over; retry.", outcomeUnknown: false);
            }
        }

        var now = clock.GetUtcNow();
        // Live keys, and gone keys whose fences must go on refusing stale tokens in the new layout.
        var rows = _committed.Where(pair => IsLive(pair.Value, now)).Select(pair => pair.Key)
            .Union(_fences.Keys, StringComparer.Ordinal)
            .Select(key => _committed.TryGetValue(key, out var entry) && IsLive(entry, now)
                ? new KvRow(key, entry.Value, entry.Version, entry.ExpiresAt, _fences.GetValueOrDefault(key), entry.Revision)
                : new KvRow(key, null, 0, null, _fences[key]));
        var byTarget = rows.GroupBy(row => ShardMap.ShardOf(row.Key, toShards)).ToList();
        await Task.WhenAll(byTarget.Select(async group =>
        {
            var target = GrainFactory.GetGrain<IShardGrain>(ShardMap.ShardKey(_tenant, toId, group.Key, toShards, _encrypted));
            foreach (var chunk in group.Chunk(HandOverChunk))
            {
                await target.IngestAsync(chunk, cancellationToken);
            }
        }));
        LogHandedOver(_committed.Count, _tableId, _shard, toId, toShards);
    }

    public async Task IngestAsync(KvRow[] rows, CancellationToken cancellationToken = default)
    {
        await EnsureOpenAsync();
        ThrowIfBroken();
        if (_dropped || rows.Length == 0)
        {
            return;
        }

        var waitFor = 0L;
        foreach (var row in rows)
        {
            var fences = row.Fences is { Count: > 0 } tokens ? MergeFences(row.Key, tokens) : null;
            // A handed-over key keeps its revision and is not a change (watchers saw it in the old
            // layout); this shard's own revisions continue above it, so the key's next change is higher.
            ContinueAbove(row.Revision);
            var entry = row.Value is null ? null : new Entry(row.Value, row.Version, row.ExpiresAt, row.Revision);
            StageWrite(row.Key, entry, new RowWrite(row.Key, row.Value, row.Version, row.ExpiresAt, fences) { Revision = row.Revision }, ref waitFor);
        }

        await CommitOf(waitFor);
    }

    public Task DropAsync(CancellationToken cancellationToken = default)
    {
        _dropped = true;
        ReleaseWatchers();
        _committed.Clear();
        _keys.Clear();
        _figures.Reset(0, 0);
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private KvResult Stage(KvOp op, DateTimeOffset now, ref long waitFor)
    {
        var current = Current(op.Key, now, ref waitFor);
        if (op.Kind == KvOpKind.Get)
        {
            return current is null
                ? new KvResult(KvStatus.NotFound)
                : new KvResult(KvStatus.Ok, current.Version, current.Value, current.ExpiresAt, current.Revision);
        }

        // Current() made the answer wait for the key's staged write, which raised the fence compared here.
        if (op.Fence is { } fence)
        {
            if (fence.Token > _issued.GetValueOrDefault(fence.Lock))
            {
                return new KvResult(KvStatus.FenceNotIssued, _issued.GetValueOrDefault(fence.Lock));
            }

            if (HighestToken(op.Key, fence.Lock) is var highest && highest > fence.Token)
            {
                return new KvResult(KvStatus.Fenced, highest);
            }
        }

        var conditionHolds = (!op.IfAbsent || current is null)
            && (!op.IfExists || current is not null)
            && (op.IfVersion is not { } expected || current?.Version == expected);
        if (!conditionHolds)
        {
            return new KvResult(KvStatus.PreconditionFailed, current?.Version ?? 0);
        }

        if (op.Kind == KvOpKind.Delete)
        {
            if (current is null)
            {
                return new KvResult(KvStatus.NotFound);
            }

            var deletion = NextRevision();
            StageWrite(op.Key, null, new RowWrite(op.Key, null, current.Version, null, RaiseFence(op.Key, op.Fence)) { Revision = deletion, Logged = true }, ref waitFor);
            return new KvResult(KvStatus.Deleted, current.Version, Revision: deletion);
        }

        if (current is null)
        {
            LogExpiry(op.Key, now, ref waitFor);
        }

        var entry = new Entry(op.Value!, (current?.Version ?? 0) + 1, op.TtlSeconds is { } ttl ? now.AddSeconds(ttl) : null, NextRevision());
        StageWrite(op.Key, entry, new RowWrite(op.Key, entry.Value, entry.Version, entry.ExpiresAt, RaiseFence(op.Key, op.Fence)) { Revision = entry.Revision, Logged = true }, ref waitFor);
        return new KvResult(current is null ? KvStatus.Created : KvStatus.Ok, entry.Version, ExpiresAt: entry.ExpiresAt, Revision: entry.Revision);
    }

    private long HighestToken(string key, string lockName) =>
        _fences.TryGetValue(key, out var byLock) ? byLock.GetValueOrDefault(lockName) : 0;

    // Records the fenced write's token as the key's highest for its lock; the key's fences as the
    // commit must store them, or null when the write is not fenced.
    private Dictionary<string, long>? RaiseFence(string key, KvFence? fence)
    {
        if (fence is null)
        {
            return null;
        }

        return MergeFences(key, new Dictionary<string, long> { [fence.Lock] = fence.Token });
    }

    private Dictionary<string, long> MergeFences(string key, IReadOnlyDictionary<string, long> tokens)
    {
        if (!_fences.TryGetValue(key, out var byLock))
        {
            _fences[key] = byLock = new Dictionary<string, long>(StringComparer.Ordinal);
        }

        foreach (var (lockName, token) in tokens)
        {
            byLock[lockName] = Math.Max(byLock.GetValueOrDefault(lockName), token);
        }

        return new Dictionary<string, long>(byLock, StringComparer.Ordinal); // a snapshot: the commit runs later
    }

    // Asks each lock named with a token above what it confirmed so far for its highest issued token.
    // A lock's tokens only grow, so a confirmation stays true, and an answer read before staging
    // is as good as one read at staging.
    private async Task ConfirmIssuedAsync(KvOp[] ops)
    {
        var unconfirmed = ops
            .Where(op => op.Fence is { } fence && fence.Token > _issued.GetValueOrDefault(fence.Lock))
            .Select(op => op.Fence!.Lock)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (unconfirmed.Count == 0)
        {
            return;
        }

        var issued = await Task.WhenAll(unconfirmed.Select(name =>
            GrainFactory.GetGrain<ILockGrain>(TenantKey.For(_tenant, name)).IssuedThroughAsync()));
        for (var i = 0; i < unconfirmed.Count; i++)
        {
            _issued[unconfirmed[i]] = Math.Max(_issued.GetValueOrDefault(unconfirmed[i]), issued[i]);
        }
    }

    // A put over a key that expired but was not swept yet: its expiry is a change of its own, before the put's.
    private void LogExpiry(string key, DateTimeOffset now, ref long waitFor)
    {
        if (!_staged.ContainsKey(key) && _committed.TryGetValue(key, out var expired) && !IsLive(expired, now))
        {
            StageDelete(key, expired, ref waitFor);
        }
    }

    // An expired key's removal: a change like any delete, so watchers see it go.
    private void StageDelete(string key, Entry current, ref long waitFor) =>
        StageWrite(key, null, new RowWrite(key, null, current.Version, null) { Revision = NextRevision(), Logged = true }, ref waitFor);

    private void StageWrite(string key, Entry? entry, RowWrite write, ref long waitFor)
    {
        // The request's deadline rides with the write: a group that outlived it is never flushed.
        var sequence = _commits.AddBefore(write, RequestDeadline.Timestamp).Sequence;
        _staged[key] = new Staged(entry, sequence);
        waitFor = sequence;
    }

    // The key's latest state, staged writes included; notes the commit an answer built on it must wait for.
    private Entry? Current(string key, DateTimeOffset now, ref long waitFor)
    {
        if (_staged.TryGetValue(key, out var staged))
        {
            waitFor = Math.Max(waitFor, staged.Sequence);
            return staged.Entry is { } entry && IsLive(entry, now) ? entry : null;
        }

        return _committed.TryGetValue(key, out var committed) && IsLive(committed, now) ? committed : null;
    }

    // One group of writes, one commit. Runs on the grain's scheduler, between its turns.
    private async Task CommitAsync(WriteGroup<RowWrite> group)
    {
        if (_dropped)
        {
            return; // nothing is applied: the waiters answer TableNotFound
        }

        // Several writes to one key in one commit: the row ends as the last one left it, and the
        // fences as the last fenced one raised them (each carries all the key's fences then).
        var rows = group.Writes.GroupBy(w => w.Key, StringComparer.Ordinal)
            .Select(g => g.Last() with { Fences = g.LastOrDefault(w => w.Fences is not null)?.Fences })
            .ToList();
        // Every logged write is a change, also when a later write in the group replaced its row.
        var changes = ChangesOf(group.Writes);
        var started = KvMetrics.StartCommit();
        try
        {
            await store.CommitAsync(_tableId, _shard, _epoch, Sealed(rows), SealedChanges(changes), group.Deadline, CancellationToken.None);
            metrics.Committed(started, _tenant, ok: true);
        }
        catch (ShardFencedException fenced) when (fenced.TableDropped)
        {
            _dropped = true;
            DeactivateOnIdle();
            return;
        }
        catch (Exception ex)
        {
            metrics.Committed(started, _tenant, ok: false);
            throw Break(ex);
        }

        Apply(rows, group.LastSequence);
        _appliedThrough = group.LastSequence;
        Publish(changes);
    }

    private void Apply(List<RowWrite> rows, long lastSequence)
    {
        foreach (var row in rows)
        {
            var before = _committed.TryGetValue(row.Key, out var old) ? old.Value.Length : -1;
            if (row.Value is null)
            {
                _committed.Remove(row.Key);
                _keys.Remove(row.Key);
                if (before >= 0)
                {
                    _figures.Change(-1, -before);
                }
            }
            else
            {
                _committed[row.Key] = new Entry(row.Value, row.Version, row.ExpiresAt, row.Revision);
                _keys.Add(row.Key);
                _figures.Change(before >= 0 ? 0 : 1, row.Value.Length - Math.Max(before, 0));
            }

            if (_staged.TryGetValue(row.Key, out var staged) && staged.Sequence <= lastSequence)
            {
                _staged.Remove(row.Key);
            }
        }
    }

    // A failed commit leaves the in-memory state ahead of the store: fail everything staged and
    // let a fresh activation reload from the store.
    private Exception Break(Exception ex)
    {
        var fenced = ex is ShardFencedException;
        _broken = ex;
        // A commit that reached the store past its deadline was refused there: nothing was written.
        Exception failure = ex is DeadlineExceededException ? ex : new ShardUnavailableException(
            fenced
                ? "The shard moved to another activation; nothing was written. Retry."
                : "The store failed while committing; the write may or may not have been applied.",
            outcomeUnknown: !fenced);
        _commits.Stop(failure);
        ReleaseWatchers();
        LogCommitFailed(ex, _tableId, _shard, _epoch);
        DeactivateOnIdle();
        return failure;
    }

    // True once the commit carrying write number `sequence` applied; false when the table was dropped first.
    private async Task<bool> CommitOf(long sequence)
    {
        try
        {
            await _commits.WhenStoredAsync(sequence);
        }
        catch (DeadlineExceededException)
        {
            StepDownAfterExpiredWrites();
            throw;
        }

        return sequence <= _appliedThrough;
    }

    // The coalescer dropped a group that outlived its deadline, and every write behind it: nothing
    // of them reached the store, but they are staged in memory. A fresh activation reloads.
    private void StepDownAfterExpiredWrites()
    {
        if (_broken is not null)
        {
            return;
        }

        _broken = new DeadlineExceededException("writes outlived their deadline before their commit");
        LogExpiredWritesDropped(_tableId, _shard, _epoch);
        DeactivateOnIdle();
    }

    private Task EnsureOpenAsync()
    {
        ThrowIfBroken();
        // A failed open is retried by the next call. OpenAsync cannot clear the field itself: when
        // the store fails before its first await, the faulted task is assigned after it returns.
        if (_opening is { IsFaulted: true })
        {
            _opening = null;
        }

        return _opening ??= OpenAsync();
    }

    private async Task OpenAsync()
    {
        try
        {
            // The epoch is taken under this silo's lease, so the lease must be live first.
            if (!await siloLease.WaitValidAsync(Patience))
            {
                throw new ShardUnavailableException("This silo holds no shard lease yet; nothing was changed. Retry.", outcomeUnknown: false);
            }

            _checkedAtLapse = siloLease.Lapses;
            var snapshot = await store.OpenShardAsync(_tableId, _shard, siloLease.Holder.Id, Patience, CancellationToken.None);
            _epoch = snapshot.Epoch;
            _dropped = snapshot.Dropped;
            _sealed = snapshot.Sealed;
            foreach (var row in snapshot.Rows)
            {
                var value = _encrypted ? protector.Unprotect(row.Value, _tableId, row.Key) : row.Value;
                _committed[row.Key] = new Entry(value, row.Version, row.ExpiresAt, row.Revision);
                _keys.Add(row.Key);
            }

            OpenedAt(snapshot.Revision);

            foreach (var fence in snapshot.Fences ?? [])
            {
                MergeFences(fence.Key, new Dictionary<string, long> { [fence.Lock] = fence.Token });
            }

            _figures.Reset(_committed.Count, _committed.Values.Sum(e => (long)e.Value.Length));
            metrics.Opened(_tenant);
        }
        catch (Exception ex) when (ex is not ShardUnavailableException)
        {
            LogStoreUnavailable(ex, "load", _tableId, _shard);
            throw new ShardUnavailableException("The shard could not be loaded from the store; nothing was changed. Retry.", outcomeUnknown: false);
        }
    }

    // Values of encrypted tables reach the store only sealed; memory keeps them in the clear.
    private List<RowWrite> Sealed(List<RowWrite> rows) => _encrypted
        ? [.. rows.Select(r => r.Value is null ? r : r with { Value = protector.Protect(r.Value, _tableId, r.Key) })]
        : rows;

    // A live holder elsewhere renews its lease within this; waiting longer would only hold the caller.
    private TimeSpan Patience => 2 * options.Value.LeaseDuration + TimeSpan.FromSeconds(1);

    private async Task EnsureReadableAsync()
    {
        await EnsureOpenAsync();
        if (_dropped)
        {
            return;
        }

        // Waiting longer than the request's deadline would only hold an answer nobody awaits.
        if (!siloLease.IsValid && !await siloLease.WaitValidAsync(RequestDeadline.Cap(Patience)))
        {
            throw new ShardUnavailableException("The shard could not confirm its lease with the store; nothing was read or written. Retry.", outcomeUnknown: false);
        }

        if (_checkedAtLapse != siloLease.Lapses)
        {
            // The silo's lease lapsed since this shard last knew its epoch was current: someone may
            // have taken the shard meanwhile. One round trip tells.
            _checking ??= CheckOwnershipAsync();
            await _checking;
        }
    }

    private async Task CheckOwnershipAsync()
    {
        try
        {
            var lapses = siloLease.Lapses;
            if (await store.OwnsAsync(_tableId, _shard, _epoch, CancellationToken.None))
            {
                _checkedAtLapse = lapses;
                return;
            }

            Break(new ShardFencedException($"shard {_tableId}/{_shard} was taken over by another activation", tableDropped: false));
            throw new ShardUnavailableException("The shard moved to another activation; nothing was read or written. Retry.", outcomeUnknown: false);
        }
        catch (Exception ex) when (ex is not ShardUnavailableException)
        {
            LogStoreUnavailable(ex, "confirm the ownership of", _tableId, _shard);
            throw new ShardUnavailableException("The shard could not confirm its lease with the store; nothing was read or written. Retry.", outcomeUnknown: false);
        }
        finally
        {
            _checking = null;
        }
    }

    private IEnumerable<string> KeysFrom(string lower)
    {
        if (_keys.Count == 0 || KeyOrder.Instance.Compare(lower, _keys.Max) > 0)
        {
            return [];
        }

        return _keys.GetViewBetween(lower, _keys.Max!);
    }

    // Keys per ingest call: bounds one message, and one commit, however large the shard.
    private const int HandOverChunk = 1000;

    private void ThrowIfBroken()
    {
        if (_broken is not null)
        {
            throw new ShardUnavailableException("The shard is restarting after a failed commit; nothing was changed. Retry.", outcomeUnknown: false);
        }
    }

    private static bool IsLive(Entry entry, DateTimeOffset now) => entry.ExpiresAt is not { } at || at > now;

    [LoggerMessage(Level = LogLevel.Information, Message = "Handed {Count} keys of {TableId}/{Shard} over to layout {ToId} of {ToShards} shards")]
    private partial void LogHandedOver(int count, Guid tableId, int shard, Guid toId, int toShards);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Swept {Count} expired keys from {TableId}/{Shard}")]
    private partial void LogSwept(int count, Guid tableId, int shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release {TableId}/{Shard} as its activation ended; the silo retries until the release lands")]
    private partial void LogReleaseFailed(Exception exception, Guid tableId, int shard);

    // The cause stays here, in the silo's log: store exceptions (Npgsql's) cannot cross to the Api,
    // whose serializer has no codec for them, so the caller gets only the ShardUnavailableException.
    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not {Action} {TableId}/{Shard} from the store; the caller is told to retry")]
    private partial void LogStoreUnavailable(Exception exception, string action, Guid tableId, int shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writes to {TableId}/{Shard} (epoch {Epoch}) outlived their deadline before their commit and were dropped unapplied; the shard steps down and reloads")]
    private partial void LogExpiredWritesDropped(Guid tableId, int shard, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit failed on {TableId}/{Shard} (epoch {Epoch}); the shard steps down")]
    private partial void LogCommitFailed(Exception exception, Guid tableId, int shard, long epoch);

    private sealed record Entry(byte[] Value, long Version, DateTimeOffset? ExpiresAt, long Revision);

    private sealed record Staged(Entry? Entry, long Sequence);
}
