using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs;

/// <summary>What a <see cref="JobState"/> transition asks its grain to do.</summary>
public abstract record JobCommand;

/// <summary>Find a silo for the run (<see cref="JobState.Placed"/>), then hand it to that silo's worker.</summary>
public sealed record StartRun(int Index, long DispatchId) : JobCommand;

/// <summary>Tell the worker on <paramref name="Silo"/> to stop this job's run of a task (all of them when null).</summary>
public sealed record CancelRuns(string Silo, int? Index) : JobCommand;

/// <summary>After <paramref name="Delay"/>, call <see cref="JobState.Requeue"/>.</summary>
public sealed record RequeueLater(int Index, TimeSpan Delay) : JobCommand;

/// <summary>Write the task's row as it is now.</summary>
public sealed record WriteTask(int Index) : JobCommand;

/// <summary>Write the header as it is now; <paramref name="Version"/> is the header version that carries it.</summary>
public sealed record WriteHeader(long Version) : JobCommand;

/// <summary>A run was given up as lost; worth a log line.</summary>
public sealed record RunLost(int Index, string Reason) : JobCommand;

/// <summary>The end is durable: stop the timers and remove the recovery reminder.</summary>
public sealed record Retire : JobCommand;

/// <summary>
/// The state machine of one job, without I/O: its task slots, the ready queue and the counters.
/// Every transition changes the state and returns what the grain must do (<see cref="JobCommand"/>).
/// <para>
/// Invariants: a task's first success is its result, whichever run reports it; only the run of the
/// current dispatch (<c>DispatchId</c>) can fail or hand back a task; at most <c>parallelism</c>
/// tasks run; nothing is dispatched unless the job is running. The end is shown to readers only once
/// the header version carrying it is durable (<see cref="HeaderDurable"/>): until then they see the
/// status before it, so no crash can take back an end someone saw.
/// </para>
/// </summary>
public sealed class JobState
{
    /// <summary>How long a handover that failed waits before the task is queued again.</summary>
    public static readonly TimeSpan HandOverRetry = TimeSpan.FromSeconds(1);

    private readonly JobSpec _spec;
    private readonly Slot[] _tasks;
    private readonly Queue<int> _ready = new();
    private readonly Func<IReadOnlyList<string?>, string?> _reduce;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _maxBackoff;
    private readonly Func<double> _random;
    private List<JobCommand> _commands = [];
    private long _dispatchSequence;
    private long _headerVersion;
    private long _endVersion;
    private JobStatus? _endNotYetDurable;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Rebuilds a job from its stored header and task rows (every task without a result runs again).</summary>
    /// <param name="reduce">Combines the tasks' result JSON, in task order, into the job's; may throw.</param>
    /// <param name="dispatchSeed">Dispatch ids start above it: they must differ from those of earlier activations.</param>
    public JobState(
        JobRecord job, JobSpec spec, int taskCount, IEnumerable<TaskRecord> rows, Func<IReadOnlyList<string?>, string?> reduce,
        TimeProvider clock, TimeSpan maxBackoff, long dispatchSeed, Func<double>? random = null)
    {
        _spec = spec;
        _reduce = reduce;
        _clock = clock;
        _maxBackoff = maxBackoff;
        _random = random ?? Random.Shared.NextDouble;
        _dispatchSequence = dispatchSeed;
        Status = job.Status;
        Result = job.ResultJson;
        Error = job.Error;
        StartedAt = job.StartedAt;
        FinishedAt = job.FinishedAt;
        _tasks = Enumerable.Range(0, taskCount).Select(_ => new Slot()).ToArray();
        foreach (var row in rows.Where(r => r.Index >= 0 && r.Index < taskCount))
        {
            _tasks[row.Index] = new Slot
            {
                State = row.Status == TaskState.Running ? TaskState.Pending : row.Status,
                Attempts = row.Attempts,
                Silo = row.Silo,
                StartedAt = row.StartedAt,
                FinishedAt = row.FinishedAt,
                Error = row.Error,
                ResultJson = row.ResultJson,
            };
        }

        SucceededCount = _tasks.Count(t => t.State == TaskState.Succeeded);
        for (var i = 0; i < taskCount; i++)
        {
            if (Status.IsTerminal() && _tasks[i].State == TaskState.Pending)
            {
                _tasks[i].State = TaskState.Cancelled;
            }
            else if (_tasks[i].State == TaskState.Pending)
            {
                _ready.Enqueue(i);
            }
        }
    }

    /// <summary>The status as the job has it (an end may not be durable yet; readers see <see cref="ShownStatus"/>).</summary>
    public JobStatus Status { get; private set; }

    /// <summary>The status readers see: before a durable end, the status the job had before it.</summary>
    public JobStatus ShownStatus => _endNotYetDurable ?? Status;

    /// <summary>The job has ended and its end is durable.</summary>
    public bool EndShown => Status.IsTerminal() && _endNotYetDurable is null;

    /// <summary>Ended, but the header version carrying the end is not durable yet.</summary>
    public bool EndPending => _endNotYetDurable is not null;

    /// <summary>The header version that carries the end (0 before the end).</summary>
    public long EndVersion => _endVersion;

    public string? Result { get; private set; }

    public string? Error { get; private set; }

    public DateTimeOffset? StartedAt { get; private set; }

    public DateTimeOffset? FinishedAt { get; private set; }

    public int TaskCount => _tasks.Length;

    public int RunningCount { get; private set; }

    public int SucceededCount { get; private set; }

    /// <summary>Grows with every change readers can see.</summary>
    public long Changes { get; private set; }

    /// <summary>Completes at the next change after now (its continuations run after the transition that made it).</summary>
    public Task NextChange => _changed.Task;

    /// <summary>Tasks waiting for a dispatch slot, in order.</summary>
    public IReadOnlyCollection<int> Ready => _ready;

    public TaskState TaskStatus(int index) => _tasks[index].State;

    public int Attempts(int index) => _tasks[index].Attempts;

    public long DispatchId(int index) => _tasks[index].DispatchId;

    public string? Silo(int index) => _tasks[index].Silo;

    // ------------------------------------------------------------ transitions

    /// <summary>Queued → running (the grain checked runAt and dependencies).</summary>
    public IReadOnlyList<JobCommand> Start() => Transition(() =>
    {
        if (Status != JobStatus.Queued)
        {
            return;
        }

        Status = JobStatus.Running;
        StartedAt ??= _clock.GetUtcNow();
        ChangeHeader();
        Pump();
    });

    /// <summary>Hands out ready tasks (after a reload, or whenever the grain wants to go on).</summary>
    public IReadOnlyList<JobCommand> Continue() => Transition(Pump);

    public IReadOnlyList<JobCommand> Pause() => Transition(() =>
    {
        if (Status == JobStatus.Running)
        {
            Status = JobStatus.Paused;
            ChangeHeader();
        }
    });

    public IReadOnlyList<JobCommand> Resume() => Transition(() =>
    {
        if (Status == JobStatus.Paused)
        {
            Status = JobStatus.Running;
            ChangeHeader();
            Pump();
        }
    });

    public IReadOnlyList<JobCommand> Cancel() => Transition(() => End(JobStatus.Cancelled, "cancelled by request"));

    /// <summary>Ends the job as failed for a reason outside its tasks (a dependency failed, the kind is unknown).</summary>
    public IReadOnlyList<JobCommand> Fail(string error) => Transition(() => End(JobStatus.Failed, error));

    /// <summary>The grain found a silo for a run. False when the dispatch is stale: the run must not start.</summary>
    public bool Placed(int index, long dispatchId, string silo)
    {
        var slot = _tasks[index];
        if (slot.DispatchId != dispatchId || slot.State != TaskState.Running)
        {
            return false;
        }

        slot.Silo = silo;
        Changed();
        return true;
    }

    /// <summary>Handing a run to a worker failed: it never started (as far as we know), so it is no attempt.</summary>
    public IReadOnlyList<JobCommand> HandOverFailed(int index, long dispatchId) => Transition(() =>
    {
        var slot = _tasks[index];
        if (slot.DispatchId != dispatchId || slot.State != TaskState.Running)
        {
            return;
        }

        slot.Attempts--;
        slot.State = TaskState.Pending;
        RunningCount--;
        Emit(new RequeueLater(index, HandOverRetry));
    });

    /// <summary>A run's report. Duplicate and late reports are harmless (see the class invariants).</summary>
    public IReadOnlyList<JobCommand> Report(TaskReport report) => Transition(() =>
    {
        if (Status.IsTerminal() || report.Index < 0 || report.Index >= _tasks.Length)
        {
            return;
        }

        var slot = _tasks[report.Index];
        if (slot.State == TaskState.Succeeded)
        {
            return; // a duplicate run: the first result stands
        }

        var current = slot.State == TaskState.Running && slot.DispatchId == report.DispatchId;
        if (report.Outcome == TaskRunOutcome.Succeeded)
        {
            // Any run's result is the task's result, even from a run this activation gave up on.
            if (slot.State == TaskState.Running)
            {
                RunningCount--;
                if (!current && slot.Silo is { } running)
                {
                    Emit(new CancelRuns(running, report.Index));
                }
            }

            slot.State = TaskState.Succeeded;
            slot.ResultJson = report.ResultJson;
            slot.Error = null;
            slot.Silo = report.Silo;
            slot.StartedAt = report.StartedAt;
            slot.FinishedAt = _clock.GetUtcNow();
            SucceededCount++;
            Emit(new WriteTask(report.Index));
        }
        else if (current)
        {
            RunningCount--;
            slot.Silo = report.Silo;
            slot.FinishedAt = _clock.GetUtcNow();
            if (report.Outcome == TaskRunOutcome.Cancelled)
            {
                // Handed back (its silo is stopping), not failed: it runs again, on its attempt.
                slot.Attempts--;
                slot.State = TaskState.Pending;
                _ready.Enqueue(report.Index);
            }
            else
            {
                AttemptFailed(report.Index, report.Error ?? report.Outcome.ToString());
            }
        }
        else
        {
            return; // a failure of a run the job no longer waits for
        }

        Changed();
        Pump();
    });

    /// <summary>A backoff (or a failed handover's wait) is over: the task is ready again if it still waits.</summary>
    public IReadOnlyList<JobCommand> Requeue(int index) => Transition(() =>
    {
        if (_tasks[index].State == TaskState.Pending && !Status.IsTerminal())
        {
            _ready.Enqueue(index);
            Pump();
        }
    });

    /// <summary>
    /// Gives up runs whose silo is gone (<paramref name="siloGone"/>) or that stayed silent past
    /// <paramref name="reportDeadline"/>: each is a failed attempt.
    /// </summary>
    public IReadOnlyList<JobCommand> Watch(Func<string, bool> siloGone, TimeSpan reportDeadline) => Transition(() =>
    {
        var now = _clock.GetUtcNow();
        var lost = false;
        for (var i = 0; i < _tasks.Length; i++)
        {
            var slot = _tasks[i];
            if (slot.State != TaskState.Running || slot.Silo is not { } silo)
            {
                continue; // not handed over yet: its handover ends it one way or the other
            }

            var reason = siloGone(silo) ? $"silo {silo} died while running it"
                : now - slot.StartedAt > reportDeadline ? $"no report from silo {silo} within the timeout"
                : null;
            if (reason is not null)
            {
                Emit(new RunLost(i, reason));
                RunningCount--;
                slot.FinishedAt = now;
                AttemptFailed(i, reason);
                lost = true;
            }
        }

        if (lost)
        {
            Changed();
            Pump();
        }
    });

    /// <summary>The writer stored header version <paramref name="version"/> (and every one before it).</summary>
    public IReadOnlyList<JobCommand> HeaderDurable(long version) => Transition(() =>
    {
        if (_endNotYetDurable is null || version < _endVersion)
        {
            return;
        }

        _endNotYetDurable = null;
        Changed();
        Emit(new Retire());
    });

    // ------------------------------------------------------------ rows and views

    /// <summary>The header row as it is now, carrying store version <paramref name="storeVersion"/>.</summary>
    public JobRecord Header(JobRecord job, long storeVersion) => job with
    {
        Status = Status,
        ResultJson = Result,
        Error = Error,
        StartedAt = StartedAt,
        FinishedAt = FinishedAt,
        Version = storeVersion,
    };

    public TaskRecord TaskRow(int index)
    {
        var slot = _tasks[index];
        return new TaskRecord(index, slot.State, slot.Attempts, slot.Silo, slot.StartedAt, slot.FinishedAt, slot.Error, slot.ResultJson);
    }

    public TaskView TaskView(int index)
    {
        var slot = _tasks[index];
        return new TaskView(index, slot.State, slot.Attempts, slot.Silo, slot.StartedAt, slot.FinishedAt, slot.Error);
    }

    /// <summary>Up to <paramref name="limit"/> tasks after index <paramref name="after"/>.</summary>
    public IReadOnlyList<TaskView>? TaskViews(int after, int limit)
    {
        var first = (int)Math.Clamp(after + 1L, 0, _tasks.Length);
        var count = (int)Math.Min(Math.Max(0, limit), _tasks.Length - first);
        return Enumerable.Range(first, count).Select(TaskView).ToList();
    }

    /// <summary>The job as readers see it: an end not yet durable shows as the status before it, without result, error or finish time.</summary>
    public JobView View(string jobId, JobRecord job)
    {
        int pending = 0, running = 0, failed = 0, cancelled = 0, attempts = 0;
        var shown = _endNotYetDurable is null;
        foreach (var task in _tasks)
        {
            attempts += task.Attempts;
            switch (task.State)
            {
                case TaskState.Running: running++; break;
                case TaskState.Failed: failed++; break;
                // Until the end is durable its cancelled tasks still count as they did before it.
                case TaskState.Cancelled when shown: cancelled++; break;
                case TaskState.Pending or TaskState.Cancelled: pending++; break;
            }
        }

        return new JobView(
            jobId, job.Kind, ShownStatus, new JobProgress(_tasks.Length, pending, running, SucceededCount, failed, cancelled),
            shown ? Result : null, shown ? Error : null, attempts, _spec.Priority, job.CreatedAt, StartedAt, shown ? FinishedAt : null, Changes,
            JobOrigins.RetryOf(job.IdempotencyKey), JobOrigins.ScheduleOf(job.IdempotencyKey));
    }

    // ------------------------------------------------------------ internals

    private IReadOnlyList<JobCommand> Transition(Action change)
    {
        _commands = [];
        change();
        return _commands;
    }

    private void Emit(JobCommand command) => _commands.Add(command);

    private void Changed()
    {
        Changes++;
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private void ChangeHeader()
    {
        Changed();
        Emit(new WriteHeader(++_headerVersion));
    }

    private void Pump()
    {
        if (Status != JobStatus.Running)
        {
            return;
        }

        while (RunningCount < _spec.Parallelism && _ready.TryDequeue(out var index))
        {
            if (_tasks[index].State == TaskState.Pending)
            {
                Dispatch(index);
            }
        }

        if (SucceededCount == _tasks.Length)
        {
            Finish();
        }
    }

    private void Dispatch(int index)
    {
        var slot = _tasks[index];
        slot.State = TaskState.Running;
        slot.Attempts++;
        slot.DispatchId = ++_dispatchSequence;
        slot.StartedAt = _clock.GetUtcNow();
        slot.FinishedAt = null;
        slot.Error = null;
        slot.Silo = null;
        RunningCount++;
        Changed();
        Emit(new StartRun(index, slot.DispatchId));
    }

    private void AttemptFailed(int index, string error)
    {
        var slot = _tasks[index];
        slot.Error = error;
        if (slot.Attempts >= _spec.MaxAttempts)
        {
            slot.State = TaskState.Failed;
            Emit(new WriteTask(index));
            End(JobStatus.Failed, $"task {index} failed after {slot.Attempts} attempt(s): {error}");
            return;
        }

        slot.State = TaskState.Pending;
        Emit(new WriteTask(index));
        Emit(new RequeueLater(index, Backoff(slot.Attempts)));
    }

    /// <summary>backoffSeconds × 2^(attempt−1), times a random factor in [0.5, 1.5), capped.</summary>
    private TimeSpan Backoff(int attempt)
    {
        var seconds = _spec.BackoffSeconds * Math.Pow(2, Math.Min(attempt - 1, 30)) * (0.5 + _random());
        return TimeSpan.FromSeconds(Math.Min(seconds, _maxBackoff.TotalSeconds));
    }

    private void Finish()
    {
        string? result;
        try
        {
            result = _reduce(_tasks.Select(t => t.ResultJson).ToList()) ?? "null";
        }
        catch (Exception e)
        {
            End(JobStatus.Failed, $"combining the task results failed: {e.Message}");
            return;
        }

        Result = result;
        End(JobStatus.Succeeded, null);
    }

    /// <summary>Running tasks are told to stop; the end is written and shows once that write is durable.</summary>
    private void End(JobStatus status, string? error)
    {
        if (Status.IsTerminal())
        {
            return;
        }

        _endNotYetDurable = ShownStatus;
        Status = status;
        Error = error;
        FinishedAt = _clock.GetUtcNow();
        var silos = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var slot in _tasks.Where(s => s.State is TaskState.Running or TaskState.Pending))
        {
            if (slot.State == TaskState.Running && slot.Silo is { } silo)
            {
                silos.Add(silo);
            }

            slot.State = TaskState.Cancelled;
        }

        RunningCount = 0;
        _ready.Clear();
        ChangeHeader();
        _endVersion = _headerVersion;
        foreach (var silo in silos)
        {
            Emit(new CancelRuns(silo, null));
        }
    }

    private sealed class Slot
    {
        public TaskState State { get; set; } = TaskState.Pending;

        public int Attempts { get; set; }

        public string? Silo { get; set; }

        public DateTimeOffset? StartedAt { get; set; }

        public DateTimeOffset? FinishedAt { get; set; }

        public string? Error { get; set; }

        public string? ResultJson { get; set; }

        public long DispatchId { get; set; }
    }
}
