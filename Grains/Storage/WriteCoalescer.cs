using System.Diagnostics;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Grains.Storage;

/// <summary>
/// Group commit: callers add writes and await their durability; while one flush runs, the writes
/// that arrive gather into the next group, and one flush stores a whole group. A busy writer thus
/// pays one store round trip for many writes, and an idle one flushes a lone write at once.
/// <para>
/// Writes are numbered in the order they were added (1, 2, ...), groups are flushed one at a time in
/// that order, and a group's waiters hear of its outcome only after its flush returned. What happens
/// when a flush throws is the <see cref="FlushFailure"/> the coalescer was made with.
/// </para>
/// <para>
/// Where the flushes run: by default on the context of the write that found the coalescer idle, after
/// that caller's turn (<see cref="Task.Yield"/>), so a grain's flushes run on the grain's own
/// scheduler, interleaved with its turns but never in parallel with them, and the rest of the
/// turn's writes join the group. A coalescer shared by callers on many contexts (a silo-wide writer)
/// passes a <see cref="TaskScheduler"/> to run them on instead. Adding is thread-safe; waiters'
/// continuations never run inside the flush loop.
/// </para>
/// <para>
/// A write may carry a deadline (<see cref="AddBefore"/>). A group holding a write whose deadline
/// has passed is not flushed: its waiters hear <see cref="DeadlineExceededException"/> (nothing was
/// stored), and under <see cref="FlushFailure.FailAll"/> so do the writes queued behind it. The whole
/// group goes, not only the late write, because writes in a group may build on one another (a
/// second put to a key takes its version from the first). So a write is stored by a flush that
/// started before its deadline, or never.
/// </para>
/// </summary>
/// <typeparam name="T">One write, as the flush needs it.</typeparam>
public sealed class WriteCoalescer<T>
{
    private readonly Lock _lock = new();
    private readonly Func<WriteGroup<T>, Task> _flush;
    private readonly FlushFailure _onFailure;
    private readonly int _maxGroup;
    private readonly TaskScheduler? _scheduler;

    // Oldest first; new writes join the last one until it is full.
    private readonly List<Group> _queued = [];
    private Group? _inFlight;
    private long _lastSequence;
    private long _storedThrough;
    private Exception? _failure;
    private Task _flushing = Task.CompletedTask;
    private bool _running;

    /// <param name="flush">Stores one group (its writes in the order they were added); throws when it could not.</param>
    /// <param name="onFailure">What a failed flush does to its waiters and to the writes behind it.</param>
    /// <param name="maxGroup">Most writes per group, so that one flush never grows without bound.</param>
    /// <param name="scheduler">Where the flushes run; null: on the context of the caller that starts them.</param>
    public WriteCoalescer(Func<WriteGroup<T>, Task> flush, FlushFailure onFailure, int maxGroup = int.MaxValue, TaskScheduler? scheduler = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGroup, 1);
        _flush = flush;
        _onFailure = onFailure;
        _maxGroup = maxGroup;
        _scheduler = scheduler;
    }

    /// <summary>
    /// Adds a write to the group being gathered (starting a flush if none runs) and answers its
    /// number and the task of its group: completed once stored, faulted with the flush's failure.
    /// After a <see cref="FlushFailure.FailAll"/> failure or <see cref="Stop"/>, the task is that failure.
    /// </summary>
    public WriteTicket Add(T write) => AddBefore(write, deadline: 0);

    /// <summary>
    /// <see cref="Add(T)"/> for a write that must not be stored once <paramref name="deadline"/> (a
    /// <see cref="Stopwatch"/> timestamp; 0 for none) has passed: checked before its group is flushed.
    /// </summary>
    public WriteTicket AddBefore(T write, long deadline)
    {
        lock (_lock)
        {
            var sequence = ++_lastSequence;
            if (_failure is { } failure)
            {
                return new WriteTicket(sequence, Task.FromException(failure));
            }

            if (_queued.Count == 0 || _queued[^1].Writes.Count >= _maxGroup)
            {
                _queued.Add(new Group(sequence));
            }

            var group = _queued[^1];
            group.Writes.Add(write);
            group.Last = sequence;
            if (deadline != 0 && (group.Deadline == 0 || deadline < group.Deadline))
            {
                group.Deadline = deadline;
            }
            if (!_running)
            {
                _running = true;
                _flushing = _scheduler is null
                    ? FlushLoopAsync()
                    : Task.Factory.StartNew(FlushLoopAsync, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _scheduler).Unwrap();
            }

            return new WriteTicket(sequence, group.Stored.Task);
        }
    }

    /// <summary>
    /// Completes when write number <paramref name="sequence"/> is stored: at once if it is, else with
    /// the group that carries it now. Under <see cref="FlushFailure.Retry"/> a failed write goes out
    /// again, so asking after its group failed waits for the retry. Faults once the coalescer stopped.
    /// Only where the stored writes form a prefix (<see cref="FlushFailure.FailAll"/> and
    /// <see cref="FlushFailure.Retry"/>); under <see cref="FlushFailure.FailGroup"/> the task of
    /// <see cref="Add"/> is the only answer.
    /// </summary>
    public Task WhenStoredAsync(long sequence)
    {
        if (_onFailure.Kind == FlushFailureKind.FailGroup)
        {
            throw new InvalidOperationException("Under FailGroup a later group may be stored after an earlier one failed: await the task Add answered.");
        }

        lock (_lock)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(sequence, _lastSequence);
            if (sequence <= _storedThrough)
            {
                return Task.CompletedTask;
            }

            if (_failure is { } failure)
            {
                return Task.FromException(failure);
            }

            if (_inFlight is { } inFlight && sequence <= inFlight.Last)
            {
                return inFlight.Stored.Task;
            }

            // Groups are contiguous and in order: the first that ends at or after the write holds it.
            foreach (var group in _queued)
            {
                if (sequence <= group.Last)
                {
                    return group.Stored.Task;
                }
            }

            throw new InvalidOperationException($"Write {sequence} is neither stored nor queued.");
        }
    }

    /// <summary>Completes when no flush runs and nothing waits for one (never faults).</summary>
    public Task WhenIdleAsync()
    {
        lock (_lock)
        {
            return _flushing;
        }
    }

    /// <summary>
    /// Fails every write not yet stored, the group in flight included, with <paramref name="failure"/>,
    /// and refuses writes from now on: for a caller that learned its writes can no longer stand (it was
    /// fenced). What the flush in flight then answers is ignored.
    /// </summary>
    public void Stop(Exception failure)
    {
        List<Group> failed;
        lock (_lock)
        {
            if (_failure is not null)
            {
                return;
            }

            _failure = failure;
            failed = [.. _queued];
            _queued.Clear();
            if (_inFlight is { } inFlight)
            {
                failed.Add(inFlight);
            }
        }

        foreach (var group in failed)
        {
            Fail(group.Stored, failure);
        }
    }

    private async Task FlushLoopAsync()
    {
        if (_scheduler is null)
        {
            // After the caller's turn: the rest of its writes join this group, and a caller that
            // awaits its write hears of a failure even when the flush fails before its first await.
            await Task.Yield();
        }
        while (true)
        {
            Group group;
            lock (_lock)
            {
                if (_failure is not null || _queued.Count == 0)
                {
                    _running = false;
                    return;
                }

                group = _queued[0];
                _queued.RemoveAt(0);
                _inFlight = group;
            }

            Exception? failure = null;
            var expired = IsPastDeadline(group);
            if (expired)
            {
                failure = new DeadlineExceededException(
                    "The request's deadline passed before its write could be committed; nothing was written. Retry.");
            }
            else
            {
                try
                {
                    await _flush(new WriteGroup<T>(group.Writes, group.First, group.Last, group.Deadline));
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }

            if (failure is null)
            {
                lock (_lock)
                {
                    _inFlight = null;
                    if (_failure is null)
                    {
                        _storedThrough = group.Last; // else stopped meanwhile: its waiters were told it failed
                    }
                }

                group.Stored.TrySetResult();
                continue;
            }

            if (!expired && await RetryAsync(group, failure))
            {
                continue;
            }

            List<Group> failed = [group];
            lock (_lock)
            {
                _inFlight = null;
                if (_onFailure.Kind != FlushFailureKind.FailGroup && _failure is null)
                {
                    _failure = failure;
                    failed.AddRange(_queued);
                    _queued.Clear();
                }
            }

            foreach (var stopped in failed)
            {
                Fail(stopped.Stored, failure);
            }
        }
    }

    // Retry: the failed group's waiters hear of the failure; its writes go out again, ahead of
    // whatever gathered meanwhile, after the back-off.
    private async Task<bool> RetryAsync(Group group, Exception failure)
    {
        if (_onFailure.Kind != FlushFailureKind.Retry || _onFailure.IsFinal(failure))
        {
            return false;
        }

        var attempt = group.Stored;
        lock (_lock)
        {
            _inFlight = null;
            if (_failure is not null)
            {
                return true; // stopped meanwhile: Stop failed every waiter, and the loop ends
            }

            group.Stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_queued.Count == 0)
            {
                _queued.Add(group);
            }
            else
            {
                var next = _queued[0];
                next.Writes.InsertRange(0, group.Writes);
                next.First = group.First;
                if (group.Deadline != 0 && (next.Deadline == 0 || group.Deadline < next.Deadline))
                {
                    next.Deadline = group.Deadline;
                }
            }
        }

        Fail(attempt, failure);
        try
        {
            await _onFailure.BackOffAsync();
        }
        catch (Exception)
        {
            // A back-off that fails only shortens the wait; the writes still go out.
        }

        return true;
    }

    private static bool IsPastDeadline(Group group) => group.Deadline != 0 && Stopwatch.GetTimestamp() >= group.Deadline;

    private static void Fail(TaskCompletionSource stored, Exception failure)
    {
        stored.TrySetException(failure);
        _ = stored.Task.Exception; // observed: a group may have no waiter
    }

    private sealed class Group(long first)
    {
        public long First { get; set; } = first;

        public long Last { get; set; } = first;

        public List<T> Writes { get; } = [];

        // The earliest deadline of its writes (a Stopwatch timestamp); 0 when none has one.
        public long Deadline { get; set; }

        public TaskCompletionSource Stored { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>A write added to a <see cref="WriteCoalescer{T}"/>: its number, and the task of the group that carries it.</summary>
public readonly record struct WriteTicket(long Sequence, Task Stored);

/// <summary>
/// One group for a flush to store: its writes in the order they were added, numbered <paramref name="FirstSequence"/>
/// to <paramref name="LastSequence"/>, and the earliest of their deadlines (a <see cref="Stopwatch"/> timestamp; 0 for
/// none), which the flush may hand on to the store, since a store write can arrive later than it was sent.
/// </summary>
public readonly record struct WriteGroup<T>(IReadOnlyList<T> Writes, long FirstSequence, long LastSequence, long Deadline = 0);
