namespace OrleansCompute.Jobs;

/// <summary>A recurring job: a cron expression (5 fields, or 6 with seconds) in a time zone.</summary>
[GenerateSerializer, Immutable, Alias("oc.ScheduleSpec")]
public sealed record ScheduleSpec(string Cron, string TimeZone, JobSpec Job);

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
}

/// <summary>The names of a tenant's schedules, for listing. Keyed by tenant.</summary>
[Alias("oc.IScheduleDirectoryGrain")]
public interface IScheduleDirectoryGrain : IGrainWithStringKey
{
    /// <summary>Lists <paramref name="name"/> (idempotent).</summary>
    [Alias("Add")]
    Task AddAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Unlists <paramref name="name"/> (idempotent).</summary>
    [Alias("Remove")]
    Task RemoveAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> names after <paramref name="after"/>, in ordinal order.</summary>
    [Alias("List"), ReadOnly]
    Task<Data.Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default);
}
