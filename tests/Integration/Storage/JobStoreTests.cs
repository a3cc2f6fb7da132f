using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Storage;

/// <summary>The job store against PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class PostgresJobStoreTests(SharedClusterFixture fixture) : JobStoreContract
{
    protected override IJobStore Store => fixture.Cluster.Silos[0].Services.GetRequiredService<IJobStore>();
}

/// <summary>The same store class against the embedded SQLite store.</summary>
public class SqliteJobStoreTests : JobStoreContract, IAsyncLifetime
{
    private InProcessSilo? _silo;

    protected override IJobStore Store => _silo!.Services.GetRequiredService<IJobStore>();

    public async Task InitializeAsync()
    {
        var port = Ports.Free();
        _silo = await InProcessSilo.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "",
            ["Storage:Path"] = Directory.CreateTempSubdirectory("oc-jobs-").FullName,
            ["Orleans:ClusterId"] = $"jobs-{Guid.NewGuid():N}",
            ["Orleans:PrimarySiloPort"] = port.ToString(),
        }, port);
    }

    public async Task DisposeAsync()
    {
        if (_silo is not null)
        {
            await _silo.DisposeAsync();
        }
    }
}

/// <summary>What the job store must do against either database: fencing, first result wins, idempotency, listing.</summary>
public abstract class JobStoreContract
{
    protected abstract IJobStore Store { get; }

    private static JobRecord NewJob(string tenant, string? idempotencyKey = null) => new(
        tenant, $"{Guid.NewGuid():N}"[..20], "sleep", JobStatus.Queued, "{}", "[]", idempotencyKey, "hash",
        null, null, DateTimeOffset.UtcNow, null, null, Version: 1);

    private static string NewTenant() => $"t{Guid.NewGuid():N}"[..16];

    [Fact]
    public async Task A_header_written_from_a_stale_version_is_fenced_and_changes_nothing()
    {
        var job = NewJob(NewTenant());
        Assert.True(await Store.InsertAsync(job, default));
        await Store.SaveAsync(job.Tenant, job.JobId, job with { Status = JobStatus.Running, Version = 2 }, [], default);

        // Another activation still at version 1 tries to write its own next state.
        await Assert.ThrowsAsync<JobFencedException>(() =>
            Store.SaveAsync(job.Tenant, job.JobId, job with { Status = JobStatus.Cancelled, Version = 2 }, [Row(0, TaskState.Failed, null)], default));

        var loaded = (await Store.LoadAsync(job.Tenant, job.JobId, default))!.Value;
        Assert.Equal((JobStatus.Running, 2L), (loaded.Job.Status, loaded.Job.Version));
        Assert.Empty(loaded.Tasks); // the fenced transaction wrote no task row either
    }

    [Fact]
    public async Task A_recorded_success_is_never_replaced()
    {
        var job = NewJob(NewTenant());
        await Store.InsertAsync(job, default);

        await Store.SaveAsync(job.Tenant, job.JobId, null, [Row(0, TaskState.Pending, null, attempts: 1), Row(1, TaskState.Succeeded, "{\"n\":1}")], default);
        await Store.SaveAsync(job.Tenant, job.JobId, null, [Row(0, TaskState.Succeeded, "{\"n\":0}", attempts: 2), Row(1, TaskState.Failed, null, attempts: 3)], default);

        var tasks = (await Store.LoadAsync(job.Tenant, job.JobId, default))!.Value.Tasks.OrderBy(t => t.Index).ToList();
        Assert.Equal((TaskState.Succeeded, "{\"n\":0}", 2), (tasks[0].Status, tasks[0].ResultJson, tasks[0].Attempts));
        Assert.Equal((TaskState.Succeeded, "{\"n\":1}", 1), (tasks[1].Status, tasks[1].ResultJson, tasks[1].Attempts));
    }

    [Fact]
    public async Task An_idempotency_key_names_one_job_per_tenant()
    {
        var tenant = NewTenant();
        var first = NewJob(tenant, "key-1");

        Assert.True(await Store.InsertAsync(first, default));
        Assert.False(await Store.InsertAsync(NewJob(tenant, "key-1"), default));
        Assert.True(await Store.InsertAsync(NewJob(NewTenant(), "key-1"), default));
        Assert.Equal(first.JobId, (await Store.FindByIdempotencyKeyAsync(tenant, "key-1", default))?.JobId);
    }

    [Fact]
    public async Task Jobs_list_in_id_order_by_status_and_count_while_active()
    {
        var tenant = NewTenant();
        var jobs = Enumerable.Range(0, 3).Select(i => NewJob(tenant) with { JobId = $"0000000000000000000{i}" }).ToList();
        foreach (var job in jobs)
        {
            await Store.InsertAsync(job, default);
        }

        await Store.SaveAsync(tenant, jobs[1].JobId, jobs[1] with { Status = JobStatus.Succeeded, Version = 2, FinishedAt = DateTimeOffset.UtcNow }, [], default);

        Assert.Equal(2, await Store.CountActiveAsync(tenant, default));
        Assert.Equal([jobs[0].JobId, jobs[2].JobId], (await Store.ListAsync(tenant, JobStatus.Queued, null, 10, default)).Select(j => j.Id));
        Assert.Equal([jobs[1].JobId, jobs[2].JobId], (await Store.ListAsync(tenant, null, jobs[0].JobId, 10, default)).Select(j => j.Id));
        Assert.Equal([jobs[0].JobId], (await Store.ListAsync(tenant, null, null, 1, default)).Select(j => j.Id));
    }

    private static TaskRecord Row(int index, TaskState status, string? result, int attempts = 1) =>
        new(index, status, attempts, "silo", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, result);
}
