using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Jobs;

/// <summary>
/// A job whose end write fails once still shows its end as soon as a retry of the write stores it
/// (issue 12, defect 1: the end stayed hidden until the activation went away, GET said
/// <c>running</c> while the listing said ended, and a repeated cancel answered 409).
/// </summary>
public sealed class JobEndWriteTests : IAsyncLifetime
{
    private readonly FailingJobStore.Switch _failing = new();
    private PostgresCluster? _cluster;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        // The product's store, wrapped by a test-only decorator registered before the product's own.
        _cluster = await PostgresCluster.StartAsync("jobendwrite", silos: 1, services: services =>
            services.AddSingleton<IJobStore>(sp => new FailingJobStore(new JobStore(sp.GetRequiredService<NpgsqlDataSource>()), _failing)));
        _http = await _cluster.Api.CreateReadyClientAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_job_whose_end_write_fails_once_shows_its_end_once_a_retry_stored_it()
    {
        var failedBefore = _failing.Failed;
        _failing.FailEnds(1);
        var id = await _http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 2, "milliseconds": 1}}""");

        var job = await _http.WaitForEndAsync(id, TimeSpan.FromSeconds(30));

        Assert.Equal("succeeded", job.Status());
        Assert.Equal(failedBefore + 1, _failing.Failed);
        Assert.Equal(2, job.GetProperty("result").GetProperty("tasks").GetInt32());
        // The listing (read from the store) agrees with GET.
        var listed = await _http.GetFromJsonAsync<JsonElement>("/v1/jobs?status=succeeded&limit=1000");
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), j => j.GetProperty("id").GetString() == id);
    }

    [Fact]
    public async Task A_cancel_whose_end_write_fails_answers_503_and_a_repeated_cancel_202_cancelled()
    {
        var id = await _http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 600000}}""");
        await Eventually.WaitAsync(async () => (await _http.JobAsync(id)).Status() == "running", TimeSpan.FromSeconds(30), "job running");
        _failing.FailEnds(1);

        var first = await _http.PostAsync($"/v1/jobs/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);

        var again = await _http.PostAsync($"/v1/jobs/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal("cancelled", (await again.Content.ReadFromJsonAsync<JsonElement>()).Status());
        Assert.Equal("cancelled", (await _http.JobAsync(id)).Status());
        Assert.Equal("cancelled", await TestDatabase.ScalarAsync<string>(_cluster!.ConnectionString,
            "SELECT status FROM oc_job WHERE job_id = @id", ("id", id)));
    }

    /// <summary>Fails the next writes of a header that ends its job, the way a lost connection does.</summary>
    private sealed class FailingJobStore(IJobStore inner, FailingJobStore.Switch failing) : IJobStore
    {
        public Task<bool> InsertAsync(JobRecord job, CancellationToken cancellationToken) => inner.InsertAsync(job, cancellationToken);

        public Task<(JobRecord Job, List<TaskRecord> Tasks)?> LoadAsync(string tenant, string jobId, CancellationToken cancellationToken) =>
            inner.LoadAsync(tenant, jobId, cancellationToken);

        public Task SaveAsync(string tenant, string jobId, JobRecord? header, IReadOnlyCollection<TaskRecord> tasks, CancellationToken cancellationToken) =>
            header is { } h && h.Status.IsTerminal() && failing.TakeFailure()
                ? Task.FromException(new NpgsqlException("injected: the connection was lost"))
                : inner.SaveAsync(tenant, jobId, header, tasks, cancellationToken);

        public Task<(string JobId, string SpecHash)?> FindByIdempotencyKeyAsync(string tenant, string key, CancellationToken cancellationToken) =>
            inner.FindByIdempotencyKeyAsync(tenant, key, cancellationToken);

        public Task<int> CountActiveAsync(string tenant, CancellationToken cancellationToken) => inner.CountActiveAsync(tenant, cancellationToken);

        public Task<List<JobSummary>> ListAsync(string tenant, JobFilter filter, string? after, int limit, CancellationToken cancellationToken) =>
            inner.ListAsync(tenant, filter, after, limit, cancellationToken);

        public Task<bool> DeleteEndedAsync(string tenant, string jobId, CancellationToken cancellationToken) => inner.DeleteEndedAsync(tenant, jobId, cancellationToken);

        public Task<List<(string Tenant, string JobId)>> ListEndedBeforeAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken) =>
            inner.ListEndedBeforeAsync(cutoff, limit, cancellationToken);

        public sealed class Switch
        {
            private int _remaining;
            private int _failed;

            public int Failed => Volatile.Read(ref _failed);

            public void FailEnds(int count) => Volatile.Write(ref _remaining, count);

            public bool TakeFailure()
            {
                while (true)
                {
                    var remaining = Volatile.Read(ref _remaining);
                    if (remaining <= 0)
                    {
                        return false;
                    }

                    if (Interlocked.CompareExchange(ref _remaining, remaining - 1, remaining) == remaining)
                    {
                        Interlocked.Increment(ref _failed);
                        return true;
                    }
                }
            }
        }
    }
}
