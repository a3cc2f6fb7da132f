using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansCompute.Deadlines;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// Admits a tenant's jobs one at a time (not reentrant on <see cref="SubmitAsync"/>), so the
/// idempotency lookup, the active-jobs quota and the insert cannot interleave with another
/// submission of the same tenant. A job is acknowledged only once its row is committed and it
/// has registered the reminder that keeps it alive.
/// </summary>
public sealed class TenantJobsGrain(IJobStore store, TaskKinds kinds, IOptions<JobOptions> options, TimeProvider clock, JobMetrics metrics) : Grain, ITenantJobsGrain
{
    private readonly JobOptions _options = options.Value;

    private string Tenant => this.GetPrimaryKeyString();

    public async Task<SubmitResult> SubmitAsync(JobSpec spec, string? idempotencyKey, CancellationToken cancellationToken = default)
    {
        var errors = await ValidateAsync(spec, cancellationToken);
        if (errors.Count > 0)
        {
            return SubmitResult.Invalid([.. errors]);
        }

        var hash = JobDocuments.Hash(spec);
        if (idempotencyKey is not null && await store.FindByIdempotencyKeyAsync(Tenant, idempotencyKey, cancellationToken) is { } earlier)
        {
            return await ExistingAsync(earlier.JobId, earlier.SpecHash == hash, cancellationToken);
        }

        if (await store.CountActiveAsync(Tenant, cancellationToken) >= _options.MaxActiveJobsPerTenant)
        {
            return new SubmitResult(SubmitOutcome.QuotaExceeded, null, JobStatus.Queued, []);
        }

        var kind = kinds.Get(spec.Kind);
        using var input = JsonDocument.Parse(spec.Input);
        IReadOnlyList<PlannedTask> plan;
        try
        {
            plan = await kind.PlanAsync(input.RootElement, new PlanContext(Tenant, GrainFactory), cancellationToken);
        }
        catch (InvalidInputException e)
        {
            return SubmitResult.Invalid(new FieldError(e.Field, e.Message));
        }

        if (plan.Count == 0 || plan.Count > _options.MaxTasksPerJob)
        {
            return SubmitResult.Invalid(new FieldError("input", $"makes {plan.Count} tasks; a job has between 1 and {_options.MaxTasksPerJob}."));
        }

        var id = NewJobId();
        var record = new JobRecord(
            Tenant, id, spec.Kind, JobStatus.Queued, JobDocuments.Serialize(spec), JobDocuments.Serialize(plan), idempotencyKey, hash,
            ResultJson: null, Error: null, CreatedAt: clock.GetUtcNow(), StartedAt: null, FinishedAt: null, Version: 1);
        // The insert is the submission's one effect: none once the request's deadline has passed.
        RequestDeadline.ThrowIfPassed("no job was created");
        if (!await store.InsertAsync(record, cancellationToken))
        {
            // Only an idempotency key can collide (ids are fresh): another activation got there first.
            var winner = await store.FindByIdempotencyKeyAsync(Tenant, idempotencyKey!, cancellationToken)
                ?? throw new InvalidOperationException($"job {id} could not be inserted");
            return await ExistingAsync(winner.JobId, winner.SpecHash == hash, cancellationToken);
        }

        metrics.JobEntered(spec.Kind, JobStatus.Queued);
        await Job(id).WakeAsync(cancellationToken);
        return new SubmitResult(SubmitOutcome.Created, id, JobStatus.Queued, []);
    }

    public async Task<IReadOnlyList<FieldError>> ValidateAsync(JobSpec spec, CancellationToken cancellationToken = default)
    {
        var errors = new List<FieldError>();
        var kind = kinds.Find(spec.Kind);
        if (kind is null)
        {
            errors.Add(new FieldError("kind", $"unknown task kind '{spec.Kind}'; known kinds: {string.Join(", ", kinds.All.Select(k => k.Name))}."));
        }

        Check(errors, spec.MaxAttempts is >= 1 and <= JobSpec.MaxAttemptsLimit, "retry.maxAttempts", $"must be between 1 and {JobSpec.MaxAttemptsLimit}.");
        Check(errors, spec.BackoffSeconds is >= 0 and <= 3600 && double.IsFinite(spec.BackoffSeconds), "retry.backoffSeconds", "must be between 0 and 3600.");
        Check(errors, spec.TimeoutSeconds is >= 1 and <= JobSpec.MaxTimeoutSeconds, "timeoutSeconds", $"must be between 1 and {JobSpec.MaxTimeoutSeconds}.");
        Check(errors, spec.Parallelism is >= 1 and <= JobSpec.MaxParallelism, "parallelism", $"must be between 1 and {JobSpec.MaxParallelism}.");
        Check(errors, spec.Priority is >= -1000 and <= 1000, "priority", "must be between -1000 and 1000.");
        Check(errors, spec.DependsOn.Count <= JobSpec.MaxDependencies, "dependsOn", $"may name at most {JobSpec.MaxDependencies} jobs.");
        Check(errors, spec.DependsOn.Distinct(StringComparer.Ordinal).Count() == spec.DependsOn.Count, "dependsOn", "names a job twice.");
        for (var i = 0; i < spec.DependsOn.Count && i < JobSpec.MaxDependencies; i++)
        {
            var dependency = spec.DependsOn[i];
            if (!JobIds.IsValid(dependency) || await Job(dependency).GetAsync(cancellationToken) is null)
            {
                errors.Add(new FieldError($"dependsOn[{i}]", $"there is no job '{dependency}'."));
            }
        }

        if (kind is not null)
        {
            using var input = JsonDocument.Parse(spec.Input);
            errors.AddRange(kind.Schema.Validate(input.RootElement));
        }

        return errors;
    }

    public async Task<IReadOnlyList<JobSummary>> ListAsync(JobFilter filter, string? after, int limit, CancellationToken cancellationToken = default) =>
        await store.ListAsync(Tenant, filter, after, limit, cancellationToken);

    /// <summary>
    /// A retry is a new job with the old one's spec (Temporal's "reset"/Hangfire's "requeue" keep the
    /// old run's history; so does this: the failed job stays as it was, with its tasks and error).
    /// Its idempotency key names the old job, so racing retries, and retries after a crash, make one job.
    /// </summary>
    public async Task<SubmitResult> RetryAsync(string jobId, CancellationToken cancellationToken = default)
    {
        // The store holds the end only once it is durable, which is when readers see it.
        if (await store.LoadAsync(Tenant, jobId, cancellationToken) is not { } loaded)
        {
            return new SubmitResult(SubmitOutcome.NotFound, null, JobStatus.Queued, []);
        }

        if (loaded.Job.Status is not (JobStatus.Failed or JobStatus.Cancelled))
        {
            return new SubmitResult(SubmitOutcome.NotRetryable, jobId, loaded.Job.Status, []);
        }

        // runAt has passed already; a retry runs now.
        return await SubmitAsync(JobDocuments.DeserializeSpec(loaded.Job.Spec) with { RunAt = null }, JobOrigins.RetryKey(jobId), cancellationToken);
    }

    /// <summary>Job ids: 12 hex digits of creation time in milliseconds, then 8 random ones, so they sort by creation.</summary>
    private string NewJobId() =>
        $"{clock.GetUtcNow().ToUnixTimeMilliseconds():x12}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";

    private async Task<SubmitResult> ExistingAsync(string jobId, bool sameSpec, CancellationToken cancellationToken)
    {
        if (!sameSpec)
        {
            return new SubmitResult(SubmitOutcome.IdempotencyKeyReused, jobId, JobStatus.Queued, []);
        }

        var job = Job(jobId);
        await job.WakeAsync(cancellationToken);
        var view = await job.GetAsync(cancellationToken);
        return new SubmitResult(SubmitOutcome.Existing, jobId, view?.Status ?? JobStatus.Queued, []);
    }

    private IJobGrain Job(string id) => GrainFactory.GetGrain<IJobGrain>(TenantKey.For(Tenant, id));

    private static void Check(List<FieldError> errors, bool valid, string field, string message)
    {
        if (!valid)
        {
            errors.Add(new FieldError(field, message));
        }
    }
}
