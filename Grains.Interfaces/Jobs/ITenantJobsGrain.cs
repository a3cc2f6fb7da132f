namespace OrleansCompute.Jobs;

/// <summary>
/// A tenant's admission desk for jobs: validates specs, honours idempotency keys and the
/// tenant's quota of active jobs, and lists jobs. Keyed by tenant name. Submissions of one
/// tenant pass through it one at a time, so the quota and idempotency checks cannot race.
/// </summary>
[Alias("oc.ITenantJobsGrain")]
public interface ITenantJobsGrain : IGrainWithStringKey
{
    /// <summary>
    /// Admits a job: validates <paramref name="spec"/>, returns the earlier job for a known
    /// <paramref name="idempotencyKey"/>, checks the quota, plans the tasks, and answers once the
    /// job is durable and awake. Every outcome other than a store fault is a value.
    /// </summary>
    [Alias("Submit")]
    Task<SubmitResult> SubmitAsync(JobSpec spec, string? idempotencyKey, CancellationToken cancellationToken = default);

    /// <summary>Checks a spec without creating anything (schedules check their job this way).</summary>
    [Alias("Validate"), ReadOnly, AlwaysInterleave]
    Task<IReadOnlyList<FieldError>> ValidateAsync(JobSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Jobs in id order (ids grow with creation time), optionally of one status.</summary>
    [Alias("List"), ReadOnly, AlwaysInterleave]
    Task<IReadOnlyList<JobSummary>> ListAsync(JobFilter filter, string? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs a failed or cancelled job again as a new job with the same spec, linked to it
    /// (<see cref="JobSummary.RetryOf"/>). Every retry of one job answers the same new job
    /// (<see cref="SubmitOutcome.Existing"/> after the first), however many race.
    /// </summary>
    [Alias("Retry")]
    Task<SubmitResult> RetryAsync(string jobId, CancellationToken cancellationToken = default);
}

/// <summary>The task kinds the silos know. A stateless worker: every silo answers from its own DI.</summary>
[Alias("oc.ITaskKindCatalogGrain")]
public interface ITaskKindCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Every registered kind with its description and input schema, in name order.</summary>
    [Alias("List"), ReadOnly]
    Task<IReadOnlyList<TaskKindInfo>> ListAsync(CancellationToken cancellationToken = default);
}
