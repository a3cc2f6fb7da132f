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
    [Alias("Put")]
    Task<SchedulePutResult> PutAsync(ScheduleSpec spec, CancellationToken cancellationToken = default);

    [Alias("Get"), ReadOnly]
    Task<ScheduleView?> GetAsync(CancellationToken cancellationToken = default);

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
    [Alias("Add")]
    Task AddAsync(string name, CancellationToken cancellationToken = default);

    [Alias("Remove")]
    Task RemoveAsync(string name, CancellationToken cancellationToken = default);

    [Alias("List"), ReadOnly]
    Task<Data.Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default);
}
