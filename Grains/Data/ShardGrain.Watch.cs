using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Grains.Data.Watch;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// Watch, the shard's side (docs/coordination.md, "Watch").
///
/// Revisions: every change the shard stages takes the next revision (<see cref="NextRevision"/>),
/// so revisions follow staging order, which is commit order. An activation continues above the
/// highest revision durable in the store when it opened (rows, change log and log floor), so they
/// only grow across moves, failovers and restarts; revisions of writes that never committed are
/// simply skipped.
///
/// The change log is written by the group commit itself, in the commit's transaction. Once a
/// commit applied, its changes join the in-memory tail (<see cref="ChangeTail"/>) and wake the long
/// polls waiting for them; a read older than the tail goes to the change log, bounded above by the
/// applied revision, so nothing not yet acknowledged is ever served.
/// </summary>
public sealed partial class ShardGrain
{
    // The highest revision handed out (staged), and the highest applied (committed, acknowledged).
    private long _revision;
    private long _appliedRevision;
    private ChangeTail? _tail;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Until then, long polls answer at once (the activation is leaving); bounded, because a move
    // that placement declines leaves the activation where it is.
    private long _releasingUntil;

    public async Task<ShardChanges> ReadChangesAsync(long after, int limit, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        await EnsureReadableAsync();
        // A layout a finished reshard retired is dropped, but stays sealed: its log still serves
        // cursors on it, up to its last revision.
        if (_dropped && !_sealed)
        {
            return new ShardChanges(ShardChangesStatus.Dropped, [], _appliedRevision);
        }

        if (after < 0)
        {
            return new ShardChanges(Status, [], _appliedRevision);
        }

        if (after >= _appliedRevision && wait > TimeSpan.Zero && !_sealed && System.Diagnostics.Stopwatch.GetTimestamp() >= _releasingUntil)
        {
            // A long poll: nothing new yet, so wait for the next commit (or give up at the deadline:
            // the watcher still learns the shard is current, for its progress events).
            await Task.WhenAny(_changed.Task, Task.Delay(Min(wait, MaxPoll), cancellationToken));
        }

        if (_dropped && !_sealed)
        {
            return new ShardChanges(ShardChangesStatus.Dropped, [], _appliedRevision);
        }

        var through = _appliedRevision;
        if (after >= through)
        {
            return new ShardChanges(Status, [], through);
        }

        limit = Math.Clamp(limit, 1, MaxChangesPerRead);
        _tail!.TrimOlderThan(System.Diagnostics.Stopwatch.GetTimestamp() - (long)(watchOptions.Value.Retention.TotalSeconds * System.Diagnostics.Stopwatch.Frequency));
        if (_tail.Covers(after))
        {
            var held = _tail.After(after, limit);
            return new ShardChanges(Status, held, held.Count == limit ? held[^1].Revision : through);
        }

        // Older than memory: the change log, once for this cursor's page.
        var page = await store.ReadChangesAsync(_tableId, _shard, after, through, limit, cancellationToken);
        if (after < page.Floor)
        {
            return new ShardChanges(ShardChangesStatus.Compacted, [], through, page.Floor);
        }

        var changes = page.Changes.Select(c => new KvChange(c.Revision, c.Key,
            c.Value is { } value && _encrypted ? protector.Unprotect(value, _tableId, c.Key) : c.Value, c.Version)).ToList();
        return new ShardChanges(Status, changes, changes.Count == limit ? changes[^1].Revision : through, page.Floor);
    }

    private ShardChangesStatus Status => _sealed ? ShardChangesStatus.Sealed : ShardChangesStatus.Ok;

    private long NextRevision() => ++_revision;

    private void ContinueAbove(long revision) => _revision = Math.Max(_revision, revision);

    private void OpenedAt(long revision)
    {
        _revision = _appliedRevision = revision;
        _tail = new ChangeTail(watchOptions.Value.TailSize);
        _tail.Reset(revision);
    }

    private static List<LoggedChange> ChangesOf(IReadOnlyList<RowWrite> writes) =>
        [.. writes.Where(w => w.Logged).Select(w => new LoggedChange(w.Revision, w.Key, w.Value, w.Version))];

    // Values of encrypted tables reach the change log only sealed, as their rows do.
    private List<LoggedChange> SealedChanges(List<LoggedChange> changes) => _encrypted
        ? [.. changes.Select(c => c.Value is null ? c : c with { Value = protector.Protect(c.Value, _tableId, c.Key) })]
        : changes;

    // After a commit applied: its changes join the tail, and the long polls waiting for them answer.
    private void Publish(List<LoggedChange> changes)
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var change in changes)
        {
            _tail!.Append(new KvChange(change.Revision, change.Key, change.Value, change.Version), now);
            _appliedRevision = Math.Max(_appliedRevision, change.Revision);
        }

        if (changes.Count > 0)
        {
            Wake();
        }
    }

    // The activation is going (a move, a reshard, a drop, a failed commit): long polls answer now,
    // so they do not hold it busy, and come back to wherever the shard is next.
    private void ReleaseWatchers()
    {
        _releasingUntil = System.Diagnostics.Stopwatch.GetTimestamp() + 2 * System.Diagnostics.Stopwatch.Frequency;
        Wake();
    }

    private void Wake()
    {
        var woken = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        woken.TrySetResult();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    // Long polls stay well inside Orleans' response timeout between silos (30 s); the Api's callers ask for less than their own answer bound.
    private static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(10);

    private const int MaxChangesPerRead = 1000;
}
