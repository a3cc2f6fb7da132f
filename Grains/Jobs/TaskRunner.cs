using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// Runs the tasks handed to this silo: at most <see cref="JobOptions.SlotsPerSilo"/> at once, the
/// rest queued by priority (higher first, then first come). Bodies never run on a grain's
/// scheduler: CPU-bound kinds run on <see cref="CpuScheduler"/>, one per core, the others on the
/// thread pool; each has a token that fires on cancel, on timeout and when the silo stops. Every
/// run ends with a report to its job.
/// </summary>
public sealed partial class TaskRunner : IDisposable
{
    /// <summary>The meter of the job engine, exported on each silo's /metrics.</summary>
    public const string MeterName = "OrleansCompute.Jobs";

    private static readonly TimeSpan[] ReportRetries = [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10)];

    private readonly TaskKinds _kinds;
    private readonly IGrainFactory _grains;
    private readonly ILogger<TaskRunner> _logger;
    private readonly string _silo;
    private readonly int _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly PriorityQueue<Run, (int Priority, long Sequence)> _queue = new(Comparer<(int Priority, long Sequence)>.Create(
        (a, b) => a.Priority != b.Priority ? b.Priority.CompareTo(a.Priority) : a.Sequence.CompareTo(b.Sequence)));
    private readonly Dictionary<(string JobKey, int Index), Run> _runs = [];
    private readonly Counter<long> _runsEnded;
    private readonly JobMetrics _metrics;

    // CPU-bound bodies run here, one per core at once, off the thread pool Orleans runs on.
    private readonly CpuScheduler _cpu = new(Environment.ProcessorCount);
    private long _sequence;
    private int _running;

    public TaskRunner(TaskKinds kinds, IGrainFactory grains, ILocalSiloDetails silo, IOptions<JobOptions> options, IHostApplicationLifetime lifetime, IMeterFactory meters, JobMetrics metrics, ILogger<TaskRunner> logger)
    {
        _kinds = kinds;
        _grains = grains;
        _logger = logger;
        _metrics = metrics;
        _silo = silo.SiloAddress.ToParsableString();
        _slots = Math.Max(1, options.Value.SlotsPerSilo);
        // A silo that stops gracefully hands its tasks back at once instead of letting them be found lost.
        lifetime.ApplicationStopping.Register(_stopping.Cancel);
        var meter = meters.Create(MeterName);
        _runsEnded = meter.CreateCounter<long>("oc_task_runs", description: "Task runs ended on this silo, by kind and outcome (succeeded, failed, timedout, cancelled).");
        meter.CreateObservableGauge("oc_tasks_running", () => Running, description: "Task bodies running on this silo.");
        meter.CreateObservableGauge("oc_tasks_queued", () => Queued, description: "Tasks waiting for a slot on this silo.");
    }

    /// <summary>Runs in progress on this silo (queued ones not counted).</summary>
    public int Running
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>Tasks waiting for a slot on this silo.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    public void Enqueue(TaskAssignment assignment)
    {
        var run = new Run(assignment, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
        lock (_gate)
        {
            // A newer dispatch of the same task replaces an older one still here (its job gave it up).
            if (_runs.Remove((assignment.JobKey, assignment.Index), out var older))
            {
                older.Cancel.Cancel();
            }

            _runs[(assignment.JobKey, assignment.Index)] = run;
            _queue.Enqueue(run, (assignment.Priority, _sequence++));
        }

        StartWhatFits();
    }

    public void Cancel(string jobKey, int? index)
    {
        lock (_gate)
        {
            foreach (var (key, run) in _runs)
            {
                if (key.JobKey == jobKey && (index is null || key.Index == index))
                {
                    run.Cancel.Cancel();
                }
            }
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _cpu.Dispose();
    }

    private void StartWhatFits()
    {
        while (true)
        {
            Run? next;
            lock (_gate)
            {
                if (_running >= _slots || !_queue.TryDequeue(out next, out _))
                {
                    return;
                }

                _running++;
            }

            _ = Task.Run(() => ExecuteAsync(next));
        }
    }

    private async Task ExecuteAsync(Run run)
    {
        var assignment = run.Assignment;
        try
        {
            var startedAt = DateTimeOffset.UtcNow;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            _metrics.TaskStarted(assignment.Kind, assignment.Attempt, run.EnqueuedAt);
            var (outcome, result, error, unfinished) = await RunBodyAsync(run);
            var outcomeName = outcome.ToString().ToLowerInvariant();
            _runsEnded.Add(1, new KeyValuePair<string, object?>("kind", assignment.Kind), new KeyValuePair<string, object?>("outcome", outcomeName));
            _metrics.TaskEnded(assignment.Kind, outcomeName, started);
            await ReportAsync(assignment.JobKey, new TaskReport(assignment.Index, assignment.DispatchId, outcome, result, error, _silo, startedAt));
            if (unfinished is not null)
            {
                // The attempt has ended, but a body that ignores its token still runs: its slot
                // stays taken until it returns, so the silo never runs more bodies than slots.
                await OutliveAsync(assignment, unfinished);
            }
        }
        finally
        {
            lock (_gate)
            {
                _running--;
                if (_runs.TryGetValue((assignment.JobKey, assignment.Index), out var current) && ReferenceEquals(current, run))
                {
                    _runs.Remove((assignment.JobKey, assignment.Index));
                }
            }

            run.Cancel.Dispose();
            StartWhatFits();
        }
    }

    /// <summary>
    /// Runs the body until it returns, is cancelled or times out. The attempt ends at the token
    /// even if the body does not observe it; the body is then returned as unfinished.
    /// </summary>
    private async Task<(TaskRunOutcome Outcome, string? ResultJson, string? Error, Task? Unfinished)> RunBodyAsync(Run run)
    {
        var assignment = run.Assignment;
        if (run.Cancel.IsCancellationRequested)
        {
            return (TaskRunOutcome.Cancelled, null, "cancelled before it started", null);
        }

        var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(assignment.TimeoutSeconds));
        var token = CancellationTokenSource.CreateLinkedTokenSource(run.Cancel.Token, timeout.Token);
        var body = InvokeAsync(assignment, token.Token);
        // The token lives as long as the body that holds it.
        _ = body.ContinueWith(_ => { token.Dispose(); timeout.Dispose(); }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            var result = await body.WaitAsync(token.Token);
            return (TaskRunOutcome.Succeeded, result?.ToJsonString() ?? "null", null, null);
        }
        catch (OperationCanceledException) when (run.Cancel.IsCancellationRequested)
        {
            return (TaskRunOutcome.Cancelled, null, "cancelled", body);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return (TaskRunOutcome.TimedOut, null, $"timed out after {assignment.TimeoutSeconds} s", body);
        }
        catch (Exception e)
        {
            LogTaskFailed(assignment.JobKey, assignment.Index, assignment.Attempt, e.Message);
            return (TaskRunOutcome.Failed, null, $"{e.GetType().Name}: {e.Message}", null);
        }
    }

    /// <summary>The kind's body: on the thread pool, or for CPU-bound kinds on a core of their own.</summary>
    private async Task<JsonNode?> InvokeAsync(TaskAssignment assignment, CancellationToken cancellationToken)
    {
        var kind = _kinds.Get(assignment.Kind);
        using var taskInput = JsonDocument.Parse(assignment.TaskInput);
        using var jobInput = JsonDocument.Parse(assignment.JobInput);
        var (tenant, _) = TenantKey.Parse(assignment.JobKey);
        var context = new TaskRun(tenant, assignment.Index, assignment.Attempt, taskInput.RootElement, jobInput.RootElement, _grains);
        return await (kind.CpuBound
            ? _cpu.RunAsync(() => kind.RunAsync(context, cancellationToken), cancellationToken)
            : Task.Run(() => kind.RunAsync(context, cancellationToken), cancellationToken));
    }

    private async Task OutliveAsync(TaskAssignment assignment, Task body)
    {
        try
        {
            await body;
        }
        catch (OperationCanceledException)
        {
            // What a body that saw its token ends with.
        }
        catch (Exception e)
        {
            LogAbandonedBodyFailed(assignment.JobKey, assignment.Index, e);
        }
    }

    /// <summary>Tells the job, retrying for a while; if it never hears, its watchdog gives the run up as lost.</summary>
    private async Task ReportAsync(string jobKey, TaskReport report)
    {
        var job = _grains.GetGrain<IJobGrain>(jobKey);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await job.ReportAsync(report);
                return;
            }
            catch (Exception e) when (attempt < ReportRetries.Length)
            {
                LogReportRetry(report.Index, e.Message);
                await Task.Delay(ReportRetries[attempt]);
            }
            catch (Exception e)
            {
                LogReportLost(report.Index, e);
                return;
            }
        }
    }

    private sealed record Run(TaskAssignment Assignment, CancellationTokenSource Cancel)
    {
        /// <summary>When the run was queued here (a Stopwatch timestamp), for the queue-wait histogram.</summary>
        public long EnqueuedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {JobKey}#{Index} attempt {Attempt} failed: {Error}")]
    private partial void LogTaskFailed(string jobKey, int index, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {JobKey}#{Index}: a run given up on (cancelled or timed out) ended with an error")]
    private partial void LogAbandonedBodyFailed(string jobKey, int index, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reporting task #{Index} failed, retrying: {Error}")]
    private partial void LogReportRetry(int index, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up reporting task #{Index}; its job will find the run lost")]
    private partial void LogReportLost(int index, Exception exception);
}
