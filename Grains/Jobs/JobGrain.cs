using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// One job. <see cref="JobState"/> decides, <see cref="JobWriter"/> makes it durable, and this grain
/// owns the timers, the recovery reminder and the membership (<see cref="RunPlacement"/>) and carries
/// out the state's commands. The reminder brings an unfinished job back on another silo if its silo
/// dies; it reloads and runs again every task without a recorded result (docs/jobs.md).
/// <para>
/// Reentrant: reports, reads and commands interleave at awaits. Every transition runs within one
/// turn, and a handover re-checks its dispatch (<see cref="JobState.Placed"/>) after its awaits, so
/// an interleaved cancel or report is never undone (JobStateTests cover those interleavings).
/// </para>
/// </summary>
[Reentrant]
public sealed partial class JobGrain(
    IJobStore store,
    TaskKinds kinds,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    IOptions<JobOptions> options,
    TimeProvider clock,
    JobMetrics metrics,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IRemindable
{
    private const string RecoveryReminder = "recover";

    private readonly JobOptions _options = options.Value;
    private string _tenant = "";
    private string _jobId = "";
    private JobRecord? _job;
    private JobSpec _spec = null!;
    private List<PlannedTask> _plan = [];
    private JobState _state = null!;
    private JobWriter _writer = null!;
    private RunPlacement _placement = null!;
    private bool _deactivating;
    private JobGate _gate = null!;
    private IGrainTimer? _watchdog;
    private IGrainTimer? _runAtTimer;
    // The status last counted in oc_jobs_entered_total: transitions are counted once, by the activation that makes them.
    private JobStatus _counted;

    private string JobKey => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_tenant, _jobId) = TenantKey.Parse(JobKey);
        if (await store.LoadAsync(_tenant, _jobId, cancellationToken) is not { } loaded)
        {
            return;
        }

        _job = loaded.Job;
        _counted = _job.Status;
        _placement = new RunPlacement(membership, localSilo, GrainFactory);
        _spec = JobDocuments.DeserializeSpec(_job.Spec);
        _plan = JobDocuments.DeserializePlan(_job.Plan);
        var kind = kinds.Find(_job.Kind);
        // Dispatch ids only need to differ from those of earlier activations of this job.
        _state = new JobState(_job, _spec, _plan.Count, loaded.Tasks, results => JobDocuments.Reduce(kind!, _spec.Input, results), clock, _options.MaxBackoff,
            clock.GetUtcNow().ToUnixTimeMilliseconds() << 16);
        _writer = new JobWriter(version => _state.Header(_job, version), _state.TaskRow,
            (header, rows) => store.SaveAsync(_tenant, _jobId, header, rows, CancellationToken.None), delay => Task.Delay(delay, clock), _job.Version)
        {
            HeaderDurable = version => Execute(_state.HeaderDurable(version)),
            WriteFailed = e => LogWriteFailed(JobKey, e),
            Fenced = _ => { LogFenced(JobKey); DeactivateOnIdle(); },
        };
        if (_state.Status.IsTerminal())
        {
            return;
        }

        // Registered on every activation: it is what brings the job back if this silo dies.
        await this.RegisterOrUpdateReminder(RecoveryReminder, _options.RecoveryPeriod, _options.RecoveryPeriod);
        _watchdog = this.RegisterGrainTimer(Watchdog, new GrainTimerCreationOptions(_options.WatchdogPeriod, _options.WatchdogPeriod) { Interleave = true });
        if (kind is null)
        {
            Execute(_state.Fail($"task kind '{_job.Kind}' is not registered on this silo"));
        }
        else if (_state.Status == JobStatus.Queued)
        {
            _gate = new JobGate(GrainFactory, _tenant, _spec, clock, () => _state.Status == JobStatus.Queued && !_deactivating,
                (due, check) => _runAtTimer = this.RegisterGrainTimer(check, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = true }),
                failure => Execute(failure is null ? _state.Start() : _state.Fail(failure)) is { } version ? _writer.WhenDurableAsync(version) : Task.CompletedTask,
                e => LogFailed(JobKey, "checking runAt/dependencies", e));
            Background(_gate.CheckAsync(), "starting");
        }
        else
        {
            Execute(_state.Continue());
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
        _job is null || _state.EndShown ? RetireAsync() : Task.CompletedTask;

    public Task<JobView?> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(View());

    public async Task<JobView?> WaitForChangeAsync(long seenVersion, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        // An end still being written is not yet the end readers see: keep waiting for it.
        if (_job is not null && _state.Changes <= seenVersion && !_state.EndShown)
        {
            await Task.WhenAny(_state.NextChange, Task.Delay(wait, clock, cancellationToken));
        }

        return View();
    }

    public Task<IReadOnlyList<TaskView>?> GetTasksAsync(int after, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult(_job is null ? null : _state.TaskViews(after, limit));

    public async Task<JobView?> CancelAsync(CancellationToken cancellationToken = default)
    {
        if (_job is not null)
        {
            Execute(_state.Cancel());
            if (_state.EndPending)
            {
                // Also when an earlier cancel heard of a failed write: the writer has tried again since.
                await _writer.WhenDurableAsync(_state.EndVersion);
            }
        }

        return View();
    }

    public async Task<JobDeleteOutcome> DeleteAsync(CancellationToken cancellationToken = default)
    {
        if (_job is not null && !_state.EndShown)
        {
            return JobDeleteOutcome.Active;
        }

        var deleted = _job is not null && await store.DeleteEndedAsync(_tenant, _jobId, cancellationToken);
        _job = null; // from here on the job is not found, here as in the store
        DeactivateOnIdle();
        return deleted ? JobDeleteOutcome.Deleted : JobDeleteOutcome.NotFound;
    }

    public Task<JobView?> PauseAsync(CancellationToken cancellationToken = default) => CommandAsync(() => _state.Pause());

    public Task<JobView?> ResumeAsync(CancellationToken cancellationToken = default) => CommandAsync(() => _state.Resume());

    public Task ReportAsync(TaskReport report)
    {
        Execute(_job is null ? [] : _state.Report(report));
        return Task.CompletedTask;
    }

    private async Task<JobView?> CommandAsync(Func<IReadOnlyList<JobCommand>> transition)
    {
        if (_job is not null && Execute(transition()) is { } version)
        {
            await _writer.WhenDurableAsync(version);
        }

        return View();
    }

    private JobView? View() => _job is null ? null : _state.View(_jobId, _job);

    // ---------------------------------------------------------------- carrying out commands

    /// <summary>Carries out a transition's commands; returns the header version they write, if any.</summary>
    private long? Execute(IReadOnlyList<JobCommand> commands)
    {
        long? header = null;
        if (_state.Status != _counted)
        {
            _counted = _state.Status;
            metrics.JobEntered(_job!.Kind, _counted);
        }

        foreach (var command in commands)
        {
            switch (command)
            {
                case WriteHeader write:
                    _writer.ChangeHeader(write.Version);
                    header = write.Version;
                    break;
                case WriteTask write:
                    _writer.ChangeTask(write.Index);
                    break;
                case StartRun run when !_writer.IsFenced && !_deactivating:
                    Background(HandOverAsync(run.Index, run.DispatchId), "handing over task " + run.Index);
                    break;
                case CancelRuns cancel:
                    Background(GrainFactory.GetGrain<ITaskWorkerGrain>(cancel.Silo).CancelAsync(JobKey, cancel.Index), "telling silo " + cancel.Silo + " to cancel");
                    break;
                case RequeueLater requeue:
                    Background(RequeueLaterAsync(requeue), "requeueing task " + requeue.Index);
                    break;
                case RunLost lost:
                    LogRunLost(JobKey, lost.Index, lost.Reason);
                    break;
                case Retire:
                    // A leftover reminder only wakes the finished job, which then tries again.
                    Background(RetireAsync(), "removing its recovery reminder");
                    break;
            }
        }

        return header;
    }

    private async Task HandOverAsync(int index, long dispatchId)
    {
        var task = _plan[index];
        try
        {
            var target = await _placement.SiloForAsync(task);
            if (!_state.Placed(index, dispatchId, target.ToParsableString()))
            {
                return; // cancelled, ended or re-dispatched meanwhile: this run must not start
            }

            await GrainFactory.GetGrain<ITaskWorkerGrain>(target.ToParsableString()).StartAsync(new TaskAssignment(
                JobKey, _job!.Kind, index, dispatchId, _state.Attempts(index),
                task.Input?.ToJsonString() ?? "null", _spec.Input, _spec.TimeoutSeconds, _spec.Priority));
        }
        catch (Exception e) when (!_deactivating)
        {
            LogFailed(JobKey, $"handing task #{index} to a worker (trying again)", e);
            _placement.Forget(task);
            Execute(_state.HandOverFailed(index, dispatchId));
        }
    }

    private async Task RequeueLaterAsync(RequeueLater requeue)
    {
        await Task.Delay(requeue.Delay, clock);
        if (!_deactivating)
        {
            Execute(_state.Requeue(requeue.Index));
        }
    }

    /// <summary>Runs whose silo died, or that stayed silent well past their timeout, are lost attempts.</summary>
    private Task Watchdog()
    {
        if (_state.Status == JobStatus.Queued)
        {
            return _gate.RetryIfFailedAsync();
        }

        Execute(_state.Watch(_placement.IsGone, TimeSpan.FromSeconds(_spec.TimeoutSeconds) + _options.ReportGrace));
        return Task.CompletedTask;
    }

    private async Task RetireAsync()
    {
        _watchdog?.Dispose();
        _runAtTimer?.Dispose();
        if (await this.GetReminder(RecoveryReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>Work a command started that nobody awaits: its failure is logged, never lost.</summary>
    private async void Background(Task work, string what)
    {
        try
        {
            await work;
        }
        catch (Exception e)
        {
            LogFailed(JobKey, what, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: task #{Index} run lost: {Reason}")]
    private partial void LogRunLost(string job, int index, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: {What} failed")]
    private partial void LogFailed(string job, string what, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {Job}: writing its state failed; will retry")]
    private partial void LogWriteFailed(string job, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: another activation took over; this one steps down")]
    private partial void LogFenced(string job);
}
