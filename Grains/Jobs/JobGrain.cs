using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCompute.Data;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// One job. It keeps its tasks in memory and their ended attempts in the store, hands ready tasks
/// round-robin to the task workers of every active silo (data tasks to the silo of their shard),
/// at most <c>parallelism</c> at a time, and records each task's first result.
/// <para>
/// Durability: the header and the rows of tasks that ended an attempt are written in the
/// background, many changes per transaction; a reminder keeps an unfinished job alive, so if its
/// silo dies it activates elsewhere, reloads, and runs again every task without a recorded result.
/// A task may therefore run more than once; its result is recorded once (see docs/jobs.md).
/// </para>
/// Reentrant: task reports, reads and commands interleave at awaits; every handler re-checks
/// state after an await, and no state is changed across one.
/// </summary>
[Reentrant]
public sealed partial class JobGrain(
    IJobStore store,
    TaskKinds kinds,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    IOptions<JobOptions> options,
    TimeProvider clock,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IRemindable
{
    private const string RecoveryReminder = "recover";

    private readonly JobOptions _options = options.Value;
    private readonly Queue<int> _ready = new();
    private readonly HashSet<string> _awaitedDependencies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SiloAddress> _shardSilos = new(StringComparer.Ordinal);

    private string _tenant = "";
    private string _jobId = "";
    private JobRecord? _job;
    private JobSpec _spec = null!;
    private ITaskKind? _kind;
    private List<PlannedTask> _plan = [];
    private Slot[] _tasks = [];
    private JobStatus _status;

    // While the end of the job is being written, readers see the status it had before: a reader
    // never sees an end that a crash could still take back, and the listing (read from the store)
    // agrees with GET as soon as GET shows the end. The end shows once the header version that
    // carries it (_endVersion) is durable, whichever attempt of the writer stored it.
    private JobStatus? _endNotYetDurable;
    private long _endVersion;
    private string? _result;
    private string? _error;
    private DateTimeOffset? _startedAt;
    private DateTimeOffset? _finishedAt;
    private int _running;
    private int _succeeded;
    private long _dispatchSequence;
    private int _nextSilo;
    private List<SiloAddress> _activeSilos = [];
    private MembershipVersion? _activeSilosVersion;
    private bool _deactivating;
    private bool _gateFailed;
    private JobWriter _writer = null!;

    // The change feed: a counter, and a signal replaced at every change.
    private long _changes;
    private TaskCompletionSource _changed = NewSignal();

    private IGrainTimer? _watchdog;
    private IGrainTimer? _runAtTimer;

    private string JobKey => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_tenant, _jobId) = TenantKey.Parse(JobKey);
        var loaded = await store.LoadAsync(_tenant, _jobId, cancellationToken);
        if (loaded is null)
        {
            return;
        }

        Load(loaded.Value.Job, loaded.Value.Tasks);
        if (_status.IsTerminal())
        {
            return;
        }

        // Registered on every activation: it is what brings the job back if this silo dies.
        await this.RegisterOrUpdateReminder(RecoveryReminder, _options.RecoveryPeriod, _options.RecoveryPeriod);
        _watchdog = this.RegisterGrainTimer(Watchdog, new GrainTimerCreationOptions(_options.WatchdogPeriod, _options.WatchdogPeriod) { Interleave = true });
        if (_kind is null)
        {
            End(JobStatus.Failed, $"task kind '{_job!.Kind}' is not registered on this silo");
        }
        else if (_status == JobStatus.Queued)
        {
            _ = AdvanceQueuedAsync();
        }
        else
        {
            Pump();
        }
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Whatever is in flight stops here; the next activation reloads and carries on.
        _deactivating = true;
        _watchdog?.Dispose();
        _runAtTimer?.Dispose();
        return Task.CompletedTask;
    }

    public Task WakeAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task ReceiveReminder(string reminderName, TickStatus status) =>
        // The activation did the work; a finished job's leftover reminder goes away, but only once
        // its end is durable: until then the reminder is what brings the job back after a crash.
        _job is null || (_status.IsTerminal() && _endNotYetDurable is null) ? RetireAsync() : Task.CompletedTask;

    public Task<JobView?> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(View());

    public async Task<JobView?> WaitForChangeAsync(long seenVersion, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        // An end still being written is not yet the end readers see: keep waiting for it.
        var ended = _status.IsTerminal() && _endNotYetDurable is null;
        if (_job is not null && _changes <= seenVersion && !ended)
        {
            await Task.WhenAny(_changed.Task, Task.Delay(wait, clock, cancellationToken));
        }

        return View();
    }

    public Task<IReadOnlyList<TaskView>?> GetTasksAsync(int after, int limit, CancellationToken cancellationToken = default)
    {
        if (_job is null)
        {
            return Task.FromResult<IReadOnlyList<TaskView>?>(null);
        }

        var first = Math.Clamp(after + 1L, 0, _tasks.Length);
        var count = (int)Math.Min(Math.Max(0, limit), _tasks.Length - first);
        return Task.FromResult<IReadOnlyList<TaskView>?>(Enumerable.Range((int)first, count).Select(i => _tasks[i].View(i)).ToList());
    }

    public async Task<JobView?> CancelAsync(CancellationToken cancellationToken = default)
    {
        if (_job is not null && !_status.IsTerminal())
        {
            End(JobStatus.Cancelled, "cancelled by request");
        }

        if (_endNotYetDurable is not null)
        {
            // Also when a cancel before this one heard of a failed write: the writer tried again since.
            await _writer.WhenDurableAsync(_endVersion);
        }

        return View();
    }

    public async Task<JobView?> PauseAsync(CancellationToken cancellationToken = default)
    {
        if (_status == JobStatus.Running)
        {
            _status = JobStatus.Paused;
            await SaveHeaderAsync();
        }

        return View();
    }

    public async Task<JobView?> ResumeAsync(CancellationToken cancellationToken = default)
    {
        if (_status == JobStatus.Paused)
        {
            _status = JobStatus.Running;
            await SaveHeaderAsync();
            Pump();
        }

        return View();
    }

    public Task ReportAsync(TaskReport report)
    {
        if (_job is null || _status.IsTerminal() || report.Index < 0 || report.Index >= _tasks.Length)
        {
            return Task.CompletedTask;
        }

        var slot = _tasks[report.Index];
        if (slot.State == TaskState.Succeeded)
        {
            return Task.CompletedTask; // a duplicate run: the first result stands
        }

        var current = slot.State == TaskState.Running && slot.DispatchId == report.DispatchId;
        if (report.Outcome == TaskRunOutcome.Succeeded)
        {
            // Any run's result is the task's result, even from a run this activation gave up on.
            if (slot.State == TaskState.Running)
            {
                _running--;
                if (!current)
                {
                    _ = CancelOnWorkerAsync(slot.Silo, report.Index);
                }
            }

            slot.State = TaskState.Succeeded;
            slot.ResultJson = report.ResultJson;
            slot.Error = null;
            slot.Silo = report.Silo;
            slot.StartedAt = report.StartedAt;
            slot.FinishedAt = clock.GetUtcNow();
            _succeeded++;
            MarkTask(report.Index);
        }
        else if (current)
        {
            _running--;
            slot.Silo = report.Silo;
            slot.FinishedAt = clock.GetUtcNow();
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

        Changed();
        Pump();
        return Task.CompletedTask;
    }

    // ---------------------------------------------------------------- state

    private void Load(JobRecord job, List<TaskRecord> rows)
    {
        _job = job;
        _spec = JobDocuments.DeserializeSpec(job.Spec);
        _kind = kinds.Find(job.Kind);
        _plan = JobDocuments.DeserializePlan(job.Plan);
        _status = job.Status;
        _result = job.ResultJson;
        _error = job.Error;
        _startedAt = job.StartedAt;
        _finishedAt = job.FinishedAt;
        _writer = new JobWriter(Header, TaskRow, (header, rows) => store.SaveAsync(_tenant, _jobId, header, rows, CancellationToken.None), delay => Task.Delay(delay, clock), job.Version)
        {
            HeaderDurable = HeaderDurable,
            WriteFailed = e => LogWriteFailed(JobKey, e),
            Fenced = _ =>
            {
                LogFenced(JobKey);
                DeactivateOnIdle();
            },
        };
        _tasks = _plan.Select(_ => new Slot()).ToArray();
        foreach (var row in rows.Where(r => r.Index >= 0 && r.Index < _tasks.Length))
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

        _succeeded = _tasks.Count(t => t.State == TaskState.Succeeded);
        // Dispatch ids only need to differ from those of earlier activations of this job.
        _dispatchSequence = clock.GetUtcNow().ToUnixTimeMilliseconds() << 16;
        for (var i = 0; i < _tasks.Length; i++)
        {
            if (_status.IsTerminal() && _tasks[i].State is TaskState.Pending)
            {
                _tasks[i].State = TaskState.Cancelled;
            }
            else if (_tasks[i].State == TaskState.Pending)
            {
                _ready.Enqueue(i);
            }
        }
    }

    private JobView? View()
    {
        if (_job is null)
        {
            return null;
        }

        int pending = 0, running = 0, failed = 0, attempts = 0;
        foreach (var task in _tasks)
        {
            attempts += task.Attempts;
            switch (task.State)
            {
                case TaskState.Running: running++; break;
                case TaskState.Failed: failed++; break;
                case TaskState.Pending or TaskState.Cancelled: pending++; break;
            }
        }

        var shown = _endNotYetDurable is null;
        return new JobView(
            _jobId, _job.Kind, _endNotYetDurable ?? _status, new JobProgress(_tasks.Length, pending, running, _succeeded, failed),
            shown ? _result : null, shown ? _error : null, attempts, _spec.Priority, _job.CreatedAt, _startedAt, shown ? _finishedAt : null, _changes);
    }

    private void Changed()
    {
        _changes++;
        var signal = _changed;
        _changed = NewSignal();
        signal.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // ---------------------------------------------------------------- queued → running

    private async Task AdvanceQueuedAsync()
    {
        try
        {
            _gateFailed = false;
            if (_status != JobStatus.Queued)
            {
                return;
            }

            var now = clock.GetUtcNow();
            if (_spec.RunAt is { } runAt && runAt > now)
            {
                // Timers are not durable; the recovery reminder re-activates the job and this runs again.
                _runAtTimer?.Dispose();
                var due = runAt - now;
                _runAtTimer = this.RegisterGrainTimer(
                    () => AdvanceQueuedAsync(),
                    new GrainTimerCreationOptions(due > TimeSpan.FromDays(1) ? TimeSpan.FromDays(1) : due, Timeout.InfiniteTimeSpan) { Interleave = true });
                return;
            }

            foreach (var dependency in _spec.DependsOn)
            {
                var view = await GrainFactory.GetGrain<IJobGrain>(TenantKey.For(_tenant, dependency)).GetAsync();
                if (_status != JobStatus.Queued)
                {
                    return;
                }

                if (view is null || view.Status is JobStatus.Failed or JobStatus.Cancelled)
                {
                    End(JobStatus.Failed, $"dependency '{dependency}' {(view is null ? "does not exist" : $"ended {view.Status.Name()}")}");
                    return;
                }

                if (view.Status != JobStatus.Succeeded)
                {
                    if (_awaitedDependencies.Add(dependency))
                    {
                        _ = AwaitDependencyAsync(dependency, view.Version);
                    }

                    return;
                }
            }

            _status = JobStatus.Running;
            _startedAt ??= clock.GetUtcNow();
            await SaveHeaderAsync();
            Pump();
        }
        catch (Exception e)
        {
            // The watchdog tries again; the reminder brings the job back if this activation is gone.
            _gateFailed = true;
            LogGateFailed(JobKey, e);
        }
    }

    private async Task AwaitDependencyAsync(string dependency, long seen)
    {
        var job = GrainFactory.GetGrain<IJobGrain>(TenantKey.For(_tenant, dependency));
        try
        {
            while (_status == JobStatus.Queued)
            {
                try
                {
                    var view = await job.WaitForChangeAsync(seen, TimeSpan.FromSeconds(15));
                    if (view is null || view.Status.IsTerminal())
                    {
                        break;
                    }

                    seen = view.Version;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogGateFailed(JobKey, e);
                    await Task.Delay(TimeSpan.FromSeconds(1), clock);
                }
            }
        }
        finally
        {
            _awaitedDependencies.Remove(dependency);
        }

        await AdvanceQueuedAsync();
    }

    // ---------------------------------------------------------------- dispatch

    private void Pump()
    {
        if (_status != JobStatus.Running || _writer.IsFenced || _deactivating)
        {
            return;
        }

        while (_running < _spec.Parallelism && _ready.TryDequeue(out var index))
        {
            if (_tasks[index].State == TaskState.Pending)
            {
                Dispatch(index);
            }
        }

        if (_succeeded == _tasks.Length)
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
        slot.StartedAt = clock.GetUtcNow();
        slot.FinishedAt = null;
        slot.Error = null;
        slot.Silo = null;
        slot.Target = null;
        _running++;
        _ = HandOverAsync(index, slot.DispatchId);
    }

    private async Task HandOverAsync(int index, long dispatchId)
    {
        var slot = _tasks[index];
        try
        {
            var target = await DataSiloAsync(_plan[index]) ?? NextSilo();
            if (slot.DispatchId != dispatchId || slot.State != TaskState.Running)
            {
                return;
            }

            slot.Target = target;
            slot.Silo = target.ToParsableString();
            await GrainFactory.GetGrain<ITaskWorkerGrain>(slot.Silo).StartAsync(new TaskAssignment(
                JobKey, _job!.Kind, index, dispatchId, slot.Attempts,
                _plan[index].Input?.ToJsonString() ?? "null", _spec.Input, _spec.TimeoutSeconds, _spec.Priority));
        }
        catch (Exception e)
        {
            if (slot.DispatchId != dispatchId || slot.State != TaskState.Running || _deactivating)
            {
                return;
            }

            // It never reached a worker (as far as we know): not an attempt. Try again shortly.
            LogHandOverFailed(JobKey, index, e.Message);
            slot.Attempts--;
            slot.State = TaskState.Pending;
            _running--;
            if ((_plan[index].Shard ?? _plan[index].TransactionalShard) is { } shard)
            {
                _shardSilos.Remove(shard); // ask the shard where it lives again
            }

            _ = RequeueLaterAsync(index, TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>The next active silo, round-robin in address order.</summary>
    private SiloAddress NextSilo()
    {
        // Sorted once per membership version, not once per task.
        var snapshot = membership.CurrentSnapshot;
        if (snapshot.Version != _activeSilosVersion)
        {
            _activeSilos = [.. snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).Order()];
            _activeSilosVersion = snapshot.Version;
        }

        return _activeSilos.Count == 0 ? localSilo.SiloAddress : _activeSilos[_nextSilo++ % _activeSilos.Count];
    }

    /// <summary>
    /// The silo hosting the shard a data task reads (a shard grain, or a transactional shard's
    /// index grain): where its data is, so its map reads locally. Null for other tasks.
    /// </summary>
    private async Task<SiloAddress?> DataSiloAsync(PlannedTask task)
    {
        if ((task.Shard ?? task.TransactionalShard) is not { } shard)
        {
            return null;
        }

        if (_shardSilos.TryGetValue(shard, out var known) && IsActive(known))
        {
            return known;
        }

        var address = task.Shard is not null
            ? (await GrainFactory.GetGrain<IShardGrain>(shard).DescribeAsync()).Silo
            : await GrainFactory.GetGrain<ITransactionalKeyIndexGrain>(shard).SiloAsync();
        var silo = SiloAddress.FromParsableString(address);
        _shardSilos[shard] = silo;
        return silo;
    }

    private bool IsActive(SiloAddress silo) =>
        membership.CurrentSnapshot.Members.TryGetValue(silo, out var member) && member.Status == SiloStatus.Active;

    private void AttemptFailed(int index, string error)
    {
        var slot = _tasks[index];
        slot.Error = error;
        if (slot.Attempts >= _spec.MaxAttempts)
        {
            slot.State = TaskState.Failed;
            MarkTask(index);
            End(JobStatus.Failed, $"task {index} failed after {slot.Attempts} attempt(s): {error}");
            return;
        }

        slot.State = TaskState.Pending;
        MarkTask(index);
        _ = RequeueLaterAsync(index, Backoff(slot.Attempts));
    }

    /// <summary>backoffSeconds × 2^(attempt−1), times a random factor in [0.5, 1.5), capped.</summary>
    private TimeSpan Backoff(int attempt)
    {
        var seconds = _spec.BackoffSeconds * Math.Pow(2, Math.Min(attempt - 1, 30)) * (0.5 + Random.Shared.NextDouble());
        return TimeSpan.FromSeconds(Math.Min(seconds, _options.MaxBackoff.TotalSeconds));
    }

    private async Task RequeueLaterAsync(int index, TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, clock);
        }

        if (_tasks[index].State == TaskState.Pending && !_status.IsTerminal())
        {
            _ready.Enqueue(index);
            Pump();
        }
    }

    /// <summary>Runs whose silo died, or that stayed silent well past their timeout, are lost attempts.</summary>
    private Task Watchdog()
    {
        if (_status == JobStatus.Queued)
        {
            // The runAt timer and the dependency waits move a queued job on; this only retries a failed check.
            return _gateFailed ? AdvanceQueuedAsync() : Task.CompletedTask;
        }

        var now = clock.GetUtcNow();
        var deadline = TimeSpan.FromSeconds(_spec.TimeoutSeconds) + _options.ReportGrace;
        var lost = false;
        for (var i = 0; i < _tasks.Length; i++)
        {
            var slot = _tasks[i];
            if (slot.State != TaskState.Running || slot.Target is not { } target)
            {
                continue;
            }

            string? reason = null;
            // Absent: the dead silo's row was already cleaned out of the membership.
            if (!membership.CurrentSnapshot.Members.TryGetValue(target, out var member) || member.Status == SiloStatus.Dead)
            {
                reason = $"silo {slot.Silo} died while running it";
            }
            else if (now - slot.StartedAt > deadline)
            {
                reason = $"no report from silo {slot.Silo} within the timeout";
            }

            if (reason is not null)
            {
                LogRunLost(JobKey, i, reason);
                _running--;
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

        return Task.CompletedTask;
    }

    // ---------------------------------------------------------------- the end

    private void Finish()
    {
        if (_status.IsTerminal())
        {
            return;
        }

        try
        {
            using var input = JsonDocument.Parse(_spec.Input);
            var results = _tasks.Select(t => JsonNode.Parse(t.ResultJson ?? "null")).ToList();
            _result = _kind!.Reduce(input.RootElement, results)?.ToJsonString() ?? "null";
        }
        catch (Exception e)
        {
            End(JobStatus.Failed, $"combining the task results failed: {e.Message}");
            return;
        }

        End(JobStatus.Succeeded, null);
    }

    /// <summary>
    /// Ends the job: running tasks are told to stop and the end is handed to the writer. It shows
    /// once durable (<see cref="HeaderDurable"/>); a failed write is tried again until it is.
    /// </summary>
    private void End(JobStatus status, string? error)
    {
        if (_status.IsTerminal())
        {
            return;
        }

        _endNotYetDurable = _status;
        _status = status;
        _error = error;
        _finishedAt = clock.GetUtcNow();
        var silos = new HashSet<string>(StringComparer.Ordinal);
        foreach (var slot in _tasks)
        {
            if (slot.State is TaskState.Running or TaskState.Pending)
            {
                if (slot.State == TaskState.Running && slot.Silo is { } silo)
                {
                    silos.Add(silo);
                }

                slot.State = TaskState.Cancelled;
            }
        }

        _running = 0;
        _ready.Clear();
        _endVersion = _writer.ChangeHeader();
        Changed();
        foreach (var silo in silos)
        {
            _ = CancelOnWorkerAsync(silo, null); // logs its own failure; the run's report is ignored anyway
        }
    }

    private void HeaderDurable(long version)
    {
        if (_endNotYetDurable is null || version < _endVersion)
        {
            return;
        }

        _endNotYetDurable = null;
        Changed();
        _ = RetireAsync(); // logs its own failure; a leftover reminder retires the job on its next tick
    }

    private async Task CancelOnWorkerAsync(string? silo, int? index)
    {
        if (silo is null)
        {
            return;
        }

        try
        {
            await GrainFactory.GetGrain<ITaskWorkerGrain>(silo).CancelAsync(JobKey, index);
        }
        catch (Exception e)
        {
            // The run's report will be ignored; it stops when its own timeout fires.
            LogCancelFailed(JobKey, silo, e.Message);
        }
    }

    private async Task RetireAsync()
    {
        _watchdog?.Dispose();
        _runAtTimer?.Dispose();
        try
        {
            if (await this.GetReminder(RecoveryReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }
        }
        catch (Exception e)
        {
            // A leftover reminder only wakes the finished job, which then tries again.
            LogRetireFailed(JobKey, e.Message);
        }
    }

    // ---------------------------------------------------------------- writes

    private void MarkTask(int index) => _writer.ChangeTask(index);

    private async Task SaveHeaderAsync()
    {
        Changed();
        await _writer.WhenDurableAsync(_writer.ChangeHeader());
    }

    private JobRecord Header(long version) => _job! with
    {
        Status = _status,
        ResultJson = _result,
        Error = _error,
        StartedAt = _startedAt,
        FinishedAt = _finishedAt,
        Version = version,
    };

    private TaskRecord TaskRow(int index)
    {
        var slot = _tasks[index];
        return new TaskRecord(index, slot.State, slot.Attempts, slot.Silo, slot.StartedAt, slot.FinishedAt, slot.Error, slot.ResultJson);
    }

    private sealed class Slot
    {
        public TaskState State { get; set; } = TaskState.Pending;

        public int Attempts { get; set; }

        public string? Silo { get; set; }

        public SiloAddress? Target { get; set; }

        public DateTimeOffset? StartedAt { get; set; }

        public DateTimeOffset? FinishedAt { get; set; }

        public string? Error { get; set; }

        public string? ResultJson { get; set; }

        public long DispatchId { get; set; }

        public TaskView View(int index) => new(index, State, Attempts, Silo, StartedAt, FinishedAt, Error);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: handing task #{Index} to a worker failed, trying again: {Error}")]
    private partial void LogHandOverFailed(string job, int index, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: task #{Index} run lost: {Reason}")]
    private partial void LogRunLost(string job, int index, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: telling silo {Silo} to cancel failed: {Error}")]
    private partial void LogCancelFailed(string job, string silo, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: removing its recovery reminder failed: {Error}")]
    private partial void LogRetireFailed(string job, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: checking runAt/dependencies failed")]
    private partial void LogGateFailed(string job, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {Job}: writing its state failed; will retry")]
    private partial void LogWriteFailed(string job, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: another activation took over; this one steps down")]
    private partial void LogFenced(string job);
}
