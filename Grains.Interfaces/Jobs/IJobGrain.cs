namespace OrleansCompute.Jobs;

/// <summary>
/// One job: owns its tasks, hands them to workers on every silo, and records their results.
/// Keyed by <see cref="Tenancy.TenantKey.For"/>(tenant, job id). Created only through
/// <see cref="ITenantJobsGrain"/>, which admits submissions.
/// </summary>
[Alias("oc.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>The job, or null when there is none with this id.</summary>
    [Alias("Get"), ReadOnly, AlwaysInterleave]
    Task<JobView?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The job once its version is past <paramref name="seenVersion"/>, or as it is after
    /// <paramref name="wait"/>: a change feed without polling. A caller asks for less than its
    /// response timeout (the Api: <c>RequestDeadlineOptions.LongPollWait</c>).
    /// </summary>
    [Alias("WaitForChange"), ReadOnly, AlwaysInterleave]
    Task<JobView?> WaitForChangeAsync(long seenVersion, TimeSpan wait, CancellationToken cancellationToken = default);

    /// <summary>Tasks with index greater than <paramref name="after"/>, in index order.</summary>
    [Alias("GetTasks"), ReadOnly, AlwaysInterleave]
    Task<IReadOnlyList<TaskView>?> GetTasksAsync(int after, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stops the job: no more tasks start and running ones are told to stop. Answers once the end is
    /// durable; when that write fails, the call fails, the job keeps trying, and a repeated cancel
    /// waits for the next attempt. Null when there is no such job.
    /// </summary>
    [Alias("Cancel")]
    Task<JobView?> CancelAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A running job hands out no more tasks (running ones finish and count); answers once that is
    /// durable. Other states are left as they are; the view says which. Null when there is no such job.
    /// </summary>
    [Alias("Pause")]
    Task<JobView?> PauseAsync(CancellationToken cancellationToken = default);

    /// <summary>A paused job goes on handing out tasks; answers once that is durable. Null when there is no such job.</summary>
    [Alias("Resume")]
    Task<JobView?> ResumeAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes an ended job and its tasks for good; an active one is left as it is (<see cref="JobDeleteOutcome.Active"/>).</summary>
    [Alias("Delete")]
    Task<JobDeleteOutcome> DeleteAsync(CancellationToken cancellationToken = default);

    /// <summary>Makes sure the job is at work (it loads and resumes on activation): called when it is created.</summary>
    [Alias("Wake")]
    Task WakeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A worker's account of one run of one task. Safe to repeat: a task keeps its first result, and
    /// a failure counts only from the run of the task's current dispatch.
    /// </summary>
    [Alias("Report")]
    Task ReportAsync(TaskReport report);
}

/// <summary>
/// How one run of a task ended. <see cref="DispatchId"/> ties it to the dispatch that started it,
/// so a late failure of an abandoned run cannot fail the task again.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.TaskReport")]
public sealed record TaskReport(int Index, long DispatchId, TaskRunOutcome Outcome, string? ResultJson, string? Error, string Silo, DateTimeOffset StartedAt);

/// <summary>How one run of a task ended.</summary>
[GenerateSerializer, Alias("oc.TaskRunOutcome")]
public enum TaskRunOutcome
{
    /// <summary>The run returned a result.</summary>
    Succeeded,

    /// <summary>The run threw; the task is retried while it has attempts left.</summary>
    Failed,

    /// <summary>The run took longer than the job's timeoutSeconds and was cancelled; retried like a failure.</summary>
    TimedOut,

    /// <summary>The run stopped because the job was cancelled or paused, or the task was reassigned.</summary>
    Cancelled,
}
