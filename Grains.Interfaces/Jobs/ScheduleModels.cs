namespace OrleansCompute.Jobs;

/// <summary>A recurring job: a cron expression (5 fields, or 6 with seconds) in a time zone.</summary>
[GenerateSerializer, Immutable, Alias("oc.ScheduleSpec")]
public sealed record ScheduleSpec(string Cron, string TimeZone, JobSpec Job);

/// <summary>A schedule as the Api shows it.</summary>
/// <param name="Name">The schedule's name, unique in its tenant.</param>
/// <param name="Cron">Its cron expression.</param>
/// <param name="TimeZone">The IANA time zone the cron expression is read in.</param>
/// <param name="Job">The job each occurrence submits.</param>
/// <param name="Paused">True while paused: nothing fires.</param>
/// <param name="NextRun">When it fires next; null while paused or when the expression has no further occurrence.</param>
/// <param name="LastRun">The occurrence it fired last.</param>
/// <param name="LastJobId">The job that occurrence submitted.</param>
/// <param name="LastError">Why the last occurrence submitted nothing, if it did not.</param>
[GenerateSerializer, Immutable, Alias("oc.ScheduleView")]
public sealed record ScheduleView(
    string Name,
    string Cron,
    string TimeZone,
    JobSpec Job,
    bool Paused,
    DateTimeOffset? NextRun,
    DateTimeOffset? LastRun,
    string? LastJobId,
    string? LastError);

/// <summary>The answer to creating or replacing a schedule.</summary>
/// <param name="Created">True when the schedule is new, false when it replaced one.</param>
/// <param name="Schedule">The schedule as stored; null when the spec was refused.</param>
/// <param name="Errors">What is wrong with the spec, when it was refused.</param>
[GenerateSerializer, Immutable, Alias("oc.SchedulePutResult")]
public sealed record SchedulePutResult(bool Created, ScheduleView? Schedule, IReadOnlyList<FieldError> Errors);

/// <summary>One recurring job, keyed by <see cref="Tenancy.TenantKey.For"/>(tenant, schedule name).</summary>
[Alias("oc.IScheduleGrain")]
public interface IScheduleGrain : IGrainWithStringKey
{
    /// <summary>Creates or replaces the schedule (its job spec is checked like a submission); errors, if any, change nothing.</summary>
    [Alias("Put")]
    Task<SchedulePutResult> PutAsync(ScheduleSpec spec, CancellationToken cancellationToken = default);

    /// <summary>The schedule with its next and last runs, or null when there is none.</summary>
    [Alias("Get"), ReadOnly]
    Task<ScheduleView?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the schedule; it fires nothing more. False when there was none.</summary>
    [Alias("Delete")]
    Task<bool> DeleteAsync(CancellationToken cancellationToken = default);

    /// <summary>Pauses or resumes; null when there is no such schedule.</summary>
    [Alias("SetPaused")]
    Task<ScheduleView?> SetPausedAsync(bool paused, CancellationToken cancellationToken = default);

    /// <summary>
    /// Submits the schedule's job now, once, whether or not it is paused; the cron occurrences stay
    /// as they were. <see cref="SubmitOutcome.NotFound"/> when there is no such schedule.
    /// </summary>
    [Alias("Trigger")]
    Task<SubmitResult> TriggerAsync(CancellationToken cancellationToken = default);
}

