using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// The job engine's instruments beyond the runner's own (meter <see cref="TaskRunner.MeterName"/>,
/// docs/observability.md): jobs entering each state, task durations and queue waits, retries, and
/// schedule fires with their lag. Labels carry kinds, states, outcomes and tenants, never inputs.
/// </summary>
public sealed class JobMetrics
{
    private static readonly double[] TaskBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

    private readonly Counter<long> _jobsEntered;
    private readonly Histogram<double> _taskDuration;
    private readonly Histogram<double> _queueWait;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _fires;
    private readonly Histogram<double> _fireLag;

    public JobMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(TaskRunner.MeterName);
        _jobsEntered = meter.CreateCounter<long>("oc_jobs_entered", description: "Jobs that entered a state, by kind and state (queued on submit; running, paused, succeeded, failed, cancelled as they move).");
        _taskDuration = meter.CreateHistogram("oc_task_duration", "s", "Time a task run took on this silo, from its start to its end, by kind and outcome.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = TaskBuckets });
        _queueWait = meter.CreateHistogram("oc_task_queue_wait", "s", "Time a task waited on this silo for a free slot before it started, by kind.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = TaskBuckets });
        _retries = meter.CreateCounter<long>("oc_task_retries", description: "Task runs started on this silo that were a retry (attempt 2 or later), by kind.");
        _fires = meter.CreateCounter<long>("oc_schedule_fires", description: "Schedule occurrences fired, by tenant and outcome (submitted: a job was made or already existed; refused: the job spec was refused; error: the submit failed).");
        _fireLag = meter.CreateHistogram("oc_schedule_lag", "s", "How late a schedule occurrence fired, from its due time to its submit, by tenant.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = TaskBuckets });
    }

    /// <summary>A job of <paramref name="kind"/> entered <paramref name="status"/>.</summary>
    public void JobEntered(string kind, JobStatus status) =>
        _jobsEntered.Add(1, new TagList { { "kind", kind }, { "state", status.ToString().ToLowerInvariant() } });

    /// <summary>A task of <paramref name="kind"/> started after waiting since <paramref name="enqueuedAt"/> (a Stopwatch timestamp).</summary>
    public void TaskStarted(string kind, int attempt, long enqueuedAt)
    {
        _queueWait.Record(Stopwatch.GetElapsedTime(enqueuedAt).TotalSeconds, new KeyValuePair<string, object?>("kind", kind));
        if (attempt > 1)
        {
            _retries.Add(1, new KeyValuePair<string, object?>("kind", kind));
        }
    }

    /// <summary>A task run of <paramref name="kind"/> that started at <paramref name="startedAt"/> (a Stopwatch timestamp) ended.</summary>
    public void TaskEnded(string kind, string outcome, long startedAt) =>
        _taskDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, new TagList { { "kind", kind }, { "outcome", outcome } });

    /// <summary>A schedule of <paramref name="tenant"/> fired an occurrence due at <paramref name="due"/>.</summary>
    public void ScheduleFired(string tenant, string outcome, DateTimeOffset due, DateTimeOffset now)
    {
        _fires.Add(1, new TagList { { "tenant", tenant }, { "outcome", outcome } });
        _fireLag.Record(Math.Max(0, (now - due).TotalSeconds), new KeyValuePair<string, object?>("tenant", tenant));
    }
}
