using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Grains.Jobs;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;
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
            ["Jobs:RetainEndedFor"] = "01:00:00",
        }, port);
    }

    [Fact]
    public async Task Retention_deletes_the_jobs_that_ended_longer_ago_than_RetainEndedFor_through_their_grains()
    {
        var tenant = $"t{Guid.NewGuid():N}"[..16];
        JobRecord Job(string id, JobStatus status, DateTimeOffset? finished) => new(
            tenant, id, "sleep", status, JobDocuments.Serialize(new JobSpec("sleep", "{}", 1, 0, 60, 1, 0, null, [])),
            JobDocuments.Serialize([new PlannedTask(null)]), null, "hash", null, null, DateTimeOffset.UtcNow.AddHours(-3), null, finished, 1);
        var expired = Job("00000000000000000001", JobStatus.Succeeded, DateTimeOffset.UtcNow.AddHours(-2));
        var recent = Job("00000000000000000002", JobStatus.Failed, DateTimeOffset.UtcNow.AddMinutes(-1));
        foreach (var job in new[] { expired, recent })
        {
            Assert.True(await Store.InsertAsync(job, default));
        }

        var grains = _silo!.Services.GetRequiredService<IGrainFactory>();
        var grain = grains.GetGrain<IJobGrain>(TenantKey.For(tenant, expired.JobId));
        Assert.NotNull(await grain.GetAsync()); // an activation in memory must stop showing it too

        Assert.Equal(1, await _silo.Services.GetRequiredService<JobRetention>().SweepAsync(default));

        Assert.Null(await Store.LoadAsync(tenant, expired.JobId, default));
        Assert.Null(await grain.GetAsync());
        Assert.NotNull(await Store.LoadAsync(tenant, recent.JobId, default));
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
    public async Task Jobs_list_newest_first_by_status_and_count_while_active()
    {
        var tenant = NewTenant();
        var jobs = Enumerable.Range(0, 3).Select(i => NewJob(tenant) with { JobId = $"0000000000000000000{i}" }).ToList();
        foreach (var job in jobs)
        {
            await Store.InsertAsync(job, default);
        }

        await Store.SaveAsync(tenant, jobs[1].JobId, jobs[1] with { Status = JobStatus.Succeeded, Version = 2, FinishedAt = DateTimeOffset.UtcNow }, [], default);

        Assert.Equal(2, await Store.CountActiveAsync(tenant, default));
        Assert.Equal([jobs[2].JobId, jobs[0].JobId], (await Store.ListAsync(tenant, new JobFilter(JobStatus.Queued), null, 10, default)).Select(j => j.Id));
        Assert.Equal([jobs[1].JobId, jobs[0].JobId], (await Store.ListAsync(tenant, new JobFilter(), jobs[2].JobId, 10, default)).Select(j => j.Id));
        Assert.Equal([jobs[2].JobId], (await Store.ListAsync(tenant, new JobFilter(), null, 1, default)).Select(j => j.Id));
    }

    [Fact]
    public async Task Jobs_filter_by_kind_schedule_and_creation_time_and_name_their_origin()
    {
        var tenant = NewTenant();
        var t0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        // "a_b" would match "a-b" too if the prefix were a LIKE pattern.
        var cron = NewJob(tenant, JobOrigins.ScheduleKey("a_b", "20261201T000000Z")) with { JobId = "00000000000000000001", CreatedAt = t0 };
        var other = NewJob(tenant, JobOrigins.ScheduleKey("a-b", "20261201T000000Z")) with { JobId = "00000000000000000002", CreatedAt = t0.AddMinutes(1) };
        var retry = NewJob(tenant, JobOrigins.RetryKey(cron.JobId)) with { JobId = "00000000000000000003", Kind = "primes", CreatedAt = t0.AddMinutes(2) };
        foreach (var job in new[] { cron, other, retry })
        {
            Assert.True(await Store.InsertAsync(job, default));
        }

        async Task<string[]> Ids(JobFilter filter) => [.. (await Store.ListAsync(tenant, filter, null, 10, default)).Select(j => j.Id)];

        Assert.Equal([retry.JobId], await Ids(new JobFilter(Kind: "primes")));
        Assert.Equal([cron.JobId], await Ids(new JobFilter(Schedule: "a_b")));
        Assert.Equal([other.JobId, cron.JobId], await Ids(new JobFilter(CreatedBefore: t0.AddMinutes(2))));
        Assert.Equal([retry.JobId, other.JobId], await Ids(new JobFilter(CreatedAfter: t0.AddMinutes(1))));
        Assert.Equal([other.JobId], await Ids(new JobFilter(Kind: "sleep", CreatedAfter: t0.AddMinutes(1))));
        var listed = await Store.ListAsync(tenant, new JobFilter(), null, 10, default);
        Assert.Equal([cron.JobId, null, null], listed.Select(j => j.RetryOf));
        Assert.Equal([null, "a-b", "a_b"], listed.Select(j => j.Schedule));
    }

    [Fact]
    public async Task Only_ended_jobs_are_deleted_with_their_tasks_and_listed_for_retention_by_end_time()
    {
        var tenant = NewTenant();
        var active = NewJob(tenant);
        var ended = NewJob(tenant);
        await Store.InsertAsync(active, default);
        await Store.InsertAsync(ended, default);
        var finished = DateTimeOffset.UtcNow.AddHours(-1); // inside the default retention, so no sweep races this test
        await Store.SaveAsync(tenant, ended.JobId, ended with { Status = JobStatus.Failed, Version = 2, FinishedAt = finished }, [Row(0, TaskState.Failed, null)], default);

        var expired = await Store.ListEndedBeforeAsync(finished.AddSeconds(1), 1000, default);
        Assert.Contains((tenant, ended.JobId), expired);
        Assert.DoesNotContain((tenant, active.JobId), expired);
        Assert.DoesNotContain((tenant, ended.JobId), await Store.ListEndedBeforeAsync(finished, 1000, default));

        Assert.False(await Store.DeleteEndedAsync(tenant, active.JobId, default));
        Assert.NotNull(await Store.LoadAsync(tenant, active.JobId, default));
        Assert.True(await Store.DeleteEndedAsync(tenant, ended.JobId, default));
        Assert.Null(await Store.LoadAsync(tenant, ended.JobId, default));
        Assert.False(await Store.DeleteEndedAsync(tenant, ended.JobId, default));
    }

    private static TaskRecord Row(int index, TaskState status, string? result, int attempts = 1) =>
        new(index, status, attempts, "silo", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, result);
}
