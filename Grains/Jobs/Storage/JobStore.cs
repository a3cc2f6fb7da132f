using System.Data.Common;
using static OrleansCompute.Grains.DbCommands;
using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs.Storage;

/// <summary>A job's header row: everything but its tasks. Times in UTC.</summary>
public sealed record JobRecord(
    string Tenant,
    string JobId,
    string Kind,
    JobStatus Status,
    string Spec,
    string Plan,
    string? IdempotencyKey,
    string SpecHash,
    string? ResultJson,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    long Version);

/// <summary>A task that has ended at least one attempt.</summary>
public sealed record TaskRecord(
    int Index,
    TaskState Status,
    int Attempts,
    string? Silo,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    string? ResultJson);

/// <summary>Another activation of the job wrote a newer header: this one must step down.</summary>
public sealed class JobFencedException(string message) : Exception(message);

/// <summary>
/// Where jobs and their tasks are durable. One implementation, <see cref="JobStore"/>; the seam
/// lets tests put a store that fails on demand under the job grains.
/// </summary>
public interface IJobStore
{
    /// <summary>Creates the job. False when the tenant already has a job with this idempotency key.</summary>
    Task<bool> InsertAsync(JobRecord job, CancellationToken cancellationToken);

    /// <summary>The job and the rows of its tasks, or null.</summary>
    Task<(JobRecord Job, List<TaskRecord> Tasks)?> LoadAsync(string tenant, string jobId, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the header (if given; it carries the new version, and the row must still hold the one
    /// before, else <see cref="JobFencedException"/>) and the task rows, in one transaction. A task
    /// row that already records a success is never replaced.
    /// </summary>
    Task SaveAsync(string tenant, string jobId, JobRecord? header, IReadOnlyCollection<TaskRecord> tasks, CancellationToken cancellationToken);

    /// <summary>The job created under this idempotency key, with the hash of its spec.</summary>
    Task<(string JobId, string SpecHash)?> FindByIdempotencyKeyAsync(string tenant, string key, CancellationToken cancellationToken);

    /// <summary>Jobs of the tenant that are queued, running or paused.</summary>
    Task<int> CountActiveAsync(string tenant, CancellationToken cancellationToken);

    /// <summary>A page of the tenant's jobs that pass the filter, newest first (ids below <paramref name="after"/>).</summary>
    Task<List<JobSummary>> ListAsync(string tenant, JobFilter filter, string? after, int limit, CancellationToken cancellationToken);

    /// <summary>Removes an ended job and its task rows; false when there is no ended job of that id.</summary>
    Task<bool> DeleteEndedAsync(string tenant, string jobId, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> jobs of any tenant that ended before <paramref name="cutoff"/>, oldest end first.</summary>
    Task<List<(string Tenant, string JobId)>> ListEndedBeforeAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken);
}

/// <summary>
/// Jobs and tasks in PostgreSQL or, in embedded mode, SQLite (deploy/sql/*/..._jobs.sql). The SQL
/// is the common subset of both (upserts, integer times), so one class serves both stores. Every
/// <see cref="SaveAsync"/> is one transaction in one round trip where the driver batches.
/// </summary>
public sealed class JobStore(DbDataSource dataSource) : IJobStore
{
    private static readonly string ActiveStatuses =
        string.Join(", ", new[] { JobStatus.Queued, JobStatus.Running, JobStatus.Paused }.Select(s => $"'{s.Name()}'"));

    private static readonly string EndedStatuses =
        string.Join(", ", new[] { JobStatus.Succeeded, JobStatus.Failed, JobStatus.Cancelled }.Select(s => $"'{s.Name()}'"));

    /// <summary>Creates the job. False when the tenant already has a job with this idempotency key.</summary>
    public async Task<bool> InsertAsync(JobRecord job, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var insert = Command(connection, null, """
            INSERT INTO oc_job (tenant, job_id, kind, status, spec, plan, idempotency_key, spec_hash, result, error, created_at, started_at, finished_at, version)
            VALUES (@tenant, @job, @kind, @status, @spec, @plan, @idem, @hash, @result, @error, @created, @started, @finished, @version)
            ON CONFLICT DO NOTHING
            """);
        AddHeader(insert, job);
        Add(insert, "kind", job.Kind);
        Add(insert, "spec", job.Spec);
        Add(insert, "plan", job.Plan);
        Add(insert, "idem", job.IdempotencyKey);
        Add(insert, "hash", job.SpecHash);
        Add(insert, "created", job.CreatedAt.ToUnixTimeMilliseconds());
        return await insert.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>The job and the rows of its tasks, or null.</summary>
    public async Task<(JobRecord Job, List<TaskRecord> Tasks)?> LoadAsync(string tenant, string jobId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        JobRecord? job = null;
        await using (var select = Command(connection, null, """
            SELECT kind, status, spec, plan, idempotency_key, spec_hash, result, error, created_at, started_at, finished_at, version
            FROM oc_job WHERE tenant = @tenant AND job_id = @job
            """))
        {
            Add(select, "tenant", tenant);
            Add(select, "job", jobId);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                job = new JobRecord(
                    tenant, jobId, reader.GetString(0), ParseStatus(reader.GetString(1)), reader.GetString(2), reader.GetString(3),
                    NullableString(reader, 4), reader.GetString(5), NullableString(reader, 6), NullableString(reader, 7),
                    Time(reader.GetInt64(8)), NullableTime(reader, 9), NullableTime(reader, 10), reader.GetInt64(11));
            }
        }

        if (job is null)
        {
            return null;
        }

        var tasks = new List<TaskRecord>();
        await using (var select = Command(connection, null, """
            SELECT idx, status, attempts, silo, started_at, finished_at, error, result
            FROM oc_job_task WHERE tenant = @tenant AND job_id = @job
            """))
        {
            Add(select, "tenant", tenant);
            Add(select, "job", jobId);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                tasks.Add(new TaskRecord(
                    reader.GetInt32(0), Enum.Parse<TaskState>(reader.GetString(1), ignoreCase: true), reader.GetInt32(2),
                    NullableString(reader, 3), NullableTime(reader, 4), NullableTime(reader, 5), NullableString(reader, 6), NullableString(reader, 7)));
            }
        }

        return (job, tasks);
    }

    /// <summary>
    /// Writes the header (if given; it carries the new version, and the row must still hold the one
    /// before) and the task rows, in one transaction. A task row that already records a success is
    /// never replaced, so a result, once durable, is the result.
    /// </summary>
    public async Task SaveAsync(string tenant, string jobId, JobRecord? header, IReadOnlyCollection<TaskRecord> tasks, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var commands = new List<DbCommand>();
        if (header is not null)
        {
            var update = Command(connection, transaction, """
                UPDATE oc_job SET status = @status, result = @result, error = @error, started_at = @started, finished_at = @finished, version = @version
                WHERE tenant = @tenant AND job_id = @job AND version = @version - 1
                """);
            AddHeader(update, header);
            commands.Add(update);
        }

        foreach (var task in tasks)
        {
            var upsert = Command(connection, transaction, """
                INSERT INTO oc_job_task (tenant, job_id, idx, status, attempts, silo, started_at, finished_at, error, result)
                VALUES (@tenant, @job, @idx, @status, @attempts, @silo, @started, @finished, @error, @result)
                ON CONFLICT (tenant, job_id, idx) DO UPDATE SET
                    status = excluded.status, attempts = excluded.attempts, silo = excluded.silo, started_at = excluded.started_at,
                    finished_at = excluded.finished_at, error = excluded.error, result = excluded.result
                WHERE oc_job_task.status <> 'succeeded'
                """);
            Add(upsert, "tenant", tenant);
            Add(upsert, "job", jobId);
            Add(upsert, "idx", task.Index);
            Add(upsert, "status", task.Status.ToString().ToLowerInvariant());
            Add(upsert, "attempts", task.Attempts);
            Add(upsert, "silo", task.Silo);
            Add(upsert, "started", task.StartedAt?.ToUnixTimeMilliseconds());
            Add(upsert, "finished", task.FinishedAt?.ToUnixTimeMilliseconds());
            Add(upsert, "error", task.Error);
            Add(upsert, "result", task.ResultJson);
            commands.Add(upsert);
        }

        try
        {
            if (connection.CanCreateBatch)
            {
                await using var batch = connection.CreateBatch();
                batch.Transaction = transaction;
                foreach (var command in commands)
                {
                    var batchCommand = batch.CreateBatchCommand();
                    batchCommand.CommandText = command.CommandText;
                    foreach (DbParameter parameter in command.Parameters)
                    {
                        var copy = batchCommand.CreateParameter();
                        copy.ParameterName = parameter.ParameterName;
                        copy.Value = parameter.Value;
                        batchCommand.Parameters.Add(copy);
                    }

                    batch.BatchCommands.Add(batchCommand);
                }

                await batch.ExecuteNonQueryAsync(cancellationToken);
                if (header is not null && batch.BatchCommands[0].RecordsAffected != 1)
                {
                    throw new JobFencedException($"job {tenant}/{jobId} was changed by another activation");
                }
            }
            else
            {
                for (var i = 0; i < commands.Count; i++)
                {
                    var affected = await commands[i].ExecuteNonQueryAsync(cancellationToken);
                    if (i == 0 && header is not null && affected != 1)
                    {
                        throw new JobFencedException($"job {tenant}/{jobId} was changed by another activation");
                    }
                }
            }

            await transaction.CommitAsync(cancellationToken);
        }
        finally
        {
            foreach (var command in commands)
            {
                await command.DisposeAsync();
            }
        }
    }

    /// <summary>The job created under this idempotency key, with the hash of its spec.</summary>
    public async Task<(string JobId, string SpecHash)?> FindByIdempotencyKeyAsync(string tenant, string key, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var select = Command(connection, null,
            "SELECT job_id, spec_hash FROM oc_job WHERE tenant = @tenant AND idempotency_key = @idem");
        Add(select, "tenant", tenant);
        Add(select, "idem", key);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetString(1)) : null;
    }

    /// <summary>Jobs of the tenant that are queued, running or paused.</summary>
    public async Task<int> CountActiveAsync(string tenant, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var count = Command(connection, null,
            $"SELECT COUNT(*) FROM oc_job WHERE tenant = @tenant AND status IN ({ActiveStatuses})");
        Add(count, "tenant", tenant);
        return Convert.ToInt32(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<List<JobSummary>> ListAsync(string tenant, JobFilter filter, string? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var select = Command(connection, null, "");
        var where = new List<string> { "tenant = @tenant" };
        Add(select, "tenant", tenant);
        void Filter(string condition, string name, object? value)
        {
            if (value is not null)
            {
                where.Add(condition);
                Add(select, name, value);
            }
        }

        Filter("status = @status", "status", filter.Status?.Name());
        Filter("kind = @kind", "kind", filter.Kind);
        // A prefix compared with substr, not LIKE: '_' is a LIKE wildcard and may be in a schedule's name.
        if (filter.Schedule is not null)
        {
            var prefix = JobOrigins.SchedulePrefixOf(filter.Schedule);
            Filter("substr(idempotency_key, 1, @prefixLength) = @prefix", "prefix", prefix);
            Add(select, "prefixLength", prefix.Length);
        }

        Filter("created_at >= @createdAfter", "createdAfter", filter.CreatedAfter?.ToUnixTimeMilliseconds());
        Filter("created_at < @createdBefore", "createdBefore", filter.CreatedBefore?.ToUnixTimeMilliseconds());
        Filter("job_id < @after", "after", after);
        Add(select, "limit", limit);
        // Ids begin with the creation time, so id order is creation order (ties broken by the random part).
        select.CommandText = $"""
            SELECT job_id, kind, status, created_at, finished_at, idempotency_key FROM oc_job
            WHERE {string.Join(" AND ", where)} ORDER BY job_id DESC LIMIT @limit
            """;
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var jobs = new List<JobSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var key = NullableString(reader, 5);
            jobs.Add(new JobSummary(
                reader.GetString(0), reader.GetString(1), ParseStatus(reader.GetString(2)), Time(reader.GetInt64(3)), NullableTime(reader, 4),
                JobOrigins.RetryOf(key), JobOrigins.ScheduleOf(key)));
        }

        return jobs;
    }

    public async Task<bool> DeleteEndedAsync(string tenant, string jobId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var job = Command(connection, transaction, $"DELETE FROM oc_job WHERE tenant = @tenant AND job_id = @job AND status IN ({EndedStatuses})");
        Add(job, "tenant", tenant);
        Add(job, "job", jobId);
        if (await job.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            return false;
        }

        await using var tasks = Command(connection, transaction, "DELETE FROM oc_job_task WHERE tenant = @tenant AND job_id = @job");
        Add(tasks, "tenant", tenant);
        Add(tasks, "job", jobId);
        await tasks.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<List<(string Tenant, string JobId)>> ListEndedBeforeAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var select = Command(connection, null, $"""
            SELECT tenant, job_id FROM oc_job WHERE status IN ({EndedStatuses}) AND finished_at < @cutoff ORDER BY finished_at LIMIT @limit
            """);
        Add(select, "cutoff", cutoff.ToUnixTimeMilliseconds());
        Add(select, "limit", limit);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var jobs = new List<(string, string)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add((reader.GetString(0), reader.GetString(1)));
        }

        return jobs;
    }

    private static void AddHeader(DbCommand command, JobRecord job)
    {
        Add(command, "tenant", job.Tenant);
        Add(command, "job", job.JobId);
        Add(command, "status", job.Status.Name());
        Add(command, "result", job.ResultJson);
        Add(command, "error", job.Error);
        Add(command, "started", job.StartedAt?.ToUnixTimeMilliseconds());
        Add(command, "finished", job.FinishedAt?.ToUnixTimeMilliseconds());
        Add(command, "version", job.Version);
    }

    private static JobStatus ParseStatus(string text) => Enum.Parse<JobStatus>(text, ignoreCase: true);

    private static DateTimeOffset Time(long unixMilliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds);

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static DateTimeOffset? NullableTime(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader.GetInt64(ordinal));
}
