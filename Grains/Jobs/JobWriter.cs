using OrleansCompute.Grains.Jobs.Storage;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// Writes one job's changes in the background and says when a given header version is durable.
/// <para>
/// Header versions number the header changes asked of this writer (<see cref="ChangeHeader"/>); a
/// version is durable once a write that started after it was asked for has committed, whichever
/// attempt that was. Changes asked for while a write is in flight go out together in the next one
/// (one transaction). A failed write is tried again after <see cref="RetryDelay"/>, with whatever
/// changed since, until it is stored: callers waiting on the failed attempt hear of the failure, and
/// <see cref="HeaderDurable"/> still reports the version once a later attempt stores it. A write
/// refused because another activation owns the job (<see cref="JobFencedException"/>) stops the
/// writer for good.
/// </para>
/// Not thread-safe: the grain calls it from its own scheduler, which also runs its continuations
/// (the write loop yields to the caller's scheduler).
/// </summary>
public sealed class JobWriter
{
    private readonly Func<long, JobRecord> _header;
    private readonly Func<int, TaskRecord> _taskRow;
    private readonly Func<JobRecord?, IReadOnlyCollection<TaskRecord>, Task> _save;
    private readonly Func<TimeSpan, Task> _delay;
    private readonly HashSet<int> _dirtyTasks = [];
    private long _storedVersion;
    private long _askedVersion;
    private long _durableVersion;
    private bool _headerDirty;
    private bool _writing;
    private JobFencedException? _fenced;

    // The attempt being written and the version it carries; the attempt that will carry what is asked now.
    private TaskCompletionSource? _inFlight;
    private long _inFlightVersion;
    private TaskCompletionSource? _next;

    /// <param name="header">The header row to write, given the store version it must carry.</param>
    /// <param name="taskRow">The row of a task, as it is now.</param>
    /// <param name="save">Writes a header (or null) and task rows in one transaction.</param>
    /// <param name="delay">Waits between a failed attempt and the next.</param>
    /// <param name="storedVersion">The store version of the header as loaded.</param>
    public JobWriter(
        Func<long, JobRecord> header, Func<int, TaskRecord> taskRow, Func<JobRecord?, IReadOnlyCollection<TaskRecord>, Task> save,
        Func<TimeSpan, Task> delay, long storedVersion)
    {
        _header = header;
        _taskRow = taskRow;
        _save = save;
        _delay = delay;
        _storedVersion = storedVersion;
    }

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Called with the newest durable header version after every write that stored a header.</summary>
    public Action<long>? HeaderDurable { get; init; }

    /// <summary>Called when an attempt failed (it is tried again).</summary>
    public Action<Exception>? WriteFailed { get; init; }

    /// <summary>Called once, when another activation turned out to own the job.</summary>
    public Action<JobFencedException>? Fenced { get; init; }

    public long DurableVersion => _durableVersion;

    public bool IsFenced => _fenced is not null;

    /// <summary>
    /// Asks for the header as it is now to be written. <paramref name="version"/> names this change
    /// (versions grow by one per change; the caller numbers them, starting at 1 per writer).
    /// </summary>
    public void ChangeHeader(long version)
    {
        _headerDirty = true;
        _askedVersion = Math.Max(_askedVersion, version);
        Schedule();
    }

    /// <summary>Asks for the task's row as it is now to be written.</summary>
    public void ChangeTask(int index)
    {
        _dirtyTasks.Add(index);
        Schedule();
    }

    /// <summary>
    /// Completes when <paramref name="version"/> is durable. Faults when the attempt that was to
    /// carry it failed (a later one may still store it: ask again) or when the writer was fenced.
    /// </summary>
    public Task WhenDurableAsync(long version)
    {
        if (version <= _durableVersion)
        {
            return Task.CompletedTask;
        }

        if (_fenced is not null)
        {
            return Task.FromException(_fenced);
        }

        if (_inFlight is not null && version <= _inFlightVersion)
        {
            return _inFlight.Task;
        }

        Schedule();
        return _next!.Task;
    }

    private void Schedule()
    {
        if (_fenced is not null)
        {
            return;
        }

        _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writing)
        {
            _writing = true;
            _ = WriteLoopAsync(); // never faults: every failure is handled below and reported through the callbacks
        }
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            // Starts after the caller's turn: what it changes next in that turn goes in this write,
            // and a caller waiting on this write hears of its failure even when the store fails at once.
            await Task.Yield();
            while (_next is { } attempt && _fenced is null)
            {
                _next = null;
                var carried = _askedVersion;
                var header = _headerDirty ? _header(_storedVersion + 1) : null;
                var rows = _dirtyTasks.Select(_taskRow).ToList();
                _headerDirty = false;
                _dirtyTasks.Clear();
                _inFlight = attempt;
                _inFlightVersion = header is null ? _durableVersion : carried;
                try
                {
                    await _save(header, rows);
                    _inFlight = null;
                    if (header is not null)
                    {
                        _storedVersion = header.Version;
                        _durableVersion = Math.Max(_durableVersion, carried);
                    }

                    attempt.SetResult();
                    if (header is not null)
                    {
                        HeaderDurable?.Invoke(_durableVersion);
                    }
                }
                catch (JobFencedException e)
                {
                    _inFlight = null;
                    _fenced = e;
                    Fail(attempt, e);
                    if (_next is { } orphaned)
                    {
                        // Nobody will write these: tell whoever waits, rather than leave them hanging.
                        _next = null;
                        Fail(orphaned, e);
                    }

                    Fenced?.Invoke(e);
                }
                catch (Exception e)
                {
                    // Keep the changes for the next attempt; whoever waits on this one hears of the failure.
                    _inFlight = null;
                    _headerDirty |= header is not null;
                    foreach (var row in rows)
                    {
                        _dirtyTasks.Add(row.Index);
                    }

                    Fail(attempt, e);
                    WriteFailed?.Invoke(e);
                    await _delay(RetryDelay);
                    _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }
        finally
        {
            _writing = false;
        }
    }

    private static void Fail(TaskCompletionSource attempt, Exception e)
    {
        attempt.SetException(e);
        _ = attempt.Task.Exception; // observed: nobody may be waiting on an attempt of task rows only
    }
}
