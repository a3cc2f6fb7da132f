using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Grains.Storage;

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
/// writer for good, and so does a store already disposed (<see cref="ObjectDisposedException"/>):
/// the silo is shutting down, no attempt can succeed, and the job is recovered where it moves.
/// </para>
/// The group commit is a <see cref="WriteCoalescer{T}"/> that retries (<see cref="FlushFailure.Retry"/>);
/// each write says only what changed, and the flush reads the header and rows as they are then.
/// Not thread-safe: the grain calls it from its own scheduler, which also runs the flushes.
/// </summary>
public sealed class JobWriter
{
    private readonly Func<long, JobRecord> _header;
    private readonly Func<int, TaskRecord> _taskRow;
    private readonly Func<JobRecord?, IReadOnlyCollection<TaskRecord>, Task> _save;
    private readonly Func<TimeSpan, Task> _delay;
    private readonly WriteCoalescer<Change> _writes;

    // Header versions asked for and not yet durable, with the number of the write that asked, oldest first.
    private readonly List<(long Version, long Sequence)> _asked = [];
    private long _storedVersion;
    private long _durableVersion;
    private JobFencedException? _fenced;

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
        _writes = new WriteCoalescer<Change>(WriteAsync, FlushFailure.Retry(() => _delay(RetryDelay), static e => e is JobFencedException or ObjectDisposedException));
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
        if (_fenced is null)
        {
            _asked.Add((version, _writes.Add(new Change(-1, version)).Sequence));
        }
    }

    /// <summary>Asks for the task's row as it is now to be written.</summary>
    public void ChangeTask(int index)
    {
        if (_fenced is null)
        {
            _writes.Add(new Change(index, 0));
        }
    }

    /// <summary>
    /// Completes when <paramref name="version"/> (one asked for with <see cref="ChangeHeader"/>) is
    /// durable. Faults when the attempt that was to carry it failed (a later one may still store it:
    /// ask again) or when the writer was fenced.
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

        foreach (var (asked, sequence) in _asked)
        {
            if (asked >= version)
            {
                return _writes.WhenStoredAsync(sequence);
            }
        }

        throw new ArgumentOutOfRangeException(nameof(version), version, "No header change of this version was asked for.");
    }

    private async Task WriteAsync(WriteGroup<Change> group)
    {
        var carried = 0L;
        var tasks = new HashSet<int>();
        foreach (var change in group.Writes)
        {
            if (change.Task < 0)
            {
                carried = Math.Max(carried, change.Version);
            }
            else
            {
                tasks.Add(change.Task);
            }
        }

        var header = carried > 0 ? _header(_storedVersion + 1) : null;
        try
        {
            await _save(header, [.. tasks.Select(_taskRow)]);
        }
        catch (JobFencedException e)
        {
            _fenced = e;
            Fenced?.Invoke(e);
            throw;
        }
        catch (Exception e)
        {
            WriteFailed?.Invoke(e);
            throw;
        }

        if (header is not null)
        {
            _storedVersion = header.Version;
            _durableVersion = Math.Max(_durableVersion, carried);
            _asked.RemoveAll(a => a.Version <= _durableVersion);
            HeaderDurable?.Invoke(_durableVersion);
        }
    }

    /// <summary>One change to write: a task's row (<paramref name="Task"/> ≥ 0), or header version <paramref name="Version"/>.</summary>
    private readonly record struct Change(int Task, long Version);
}
