using System.Net;
using System.Text.Json;
using OrleansCompute.Client;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Clients;

/// <summary>The .NET SDK (clients/dotnet) against the real Api and two silos on PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class SdkTests(SharedClusterFixture fixture)
{
    private OrleansComputeClient Client => OrleansComputeClient.Create(new Uri("http://localhost/"), TestKeys.Admin, fixture.Cluster.Api.Server.CreateHandler());

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public async Task Keys_with_slashes_versions_and_conditions_round_trip()
    {
        var table = Names.Table();
        await Client.CreateTableAsync(table, new TableOptions(Shards: 4));

        var first = await Client.PutAsync(table, "dir/sub", new { n = 1 });
        var second = await Client.PutAsync(table, "dir/sub", Json("{\"n\":2}"), new PutOptions(IfVersion: 1));
        var stale = await Assert.ThrowsAsync<OrleansComputeException>(() => Client.PutAsync(table, "dir/sub", Json("3"), new PutOptions(IfVersion: 1)));
        var createOnly = await Assert.ThrowsAsync<OrleansComputeException>(() => Client.PutAsync(table, "dir/sub", Json("4"), new PutOptions(CreateOnly: true)));
        var read = await Client.GetAsync(table, "dir/sub");

        Assert.True(first.Created);
        Assert.Equal((1L, 2L), (first.Version, second.Version));
        Assert.Equal((HttpStatusCode.PreconditionFailed, "precondition-failed"), (stale.Status, stale.Kind));
        Assert.Equal(HttpStatusCode.PreconditionFailed, createOnly.Status);
        Assert.Equal(("{\"n\":2}", 2L), (read!.Value.GetRawText(), read.Version));
        Assert.Null(await Client.GetAsync(table, "absent"));
        Assert.False(await Client.DeleteAsync(table, "absent"));
        Assert.True(await Client.DeleteAsync(table, "dir/sub", ifVersion: 2));
    }

    [Fact]
    public async Task WatchAsync_yields_puts_and_deletes_and_resumes_after_its_last_cursor()
    {
        var table = Names.Table();
        await Client.CreateTableAsync(table, new TableOptions(Shards: 2));
        await Client.PutAsync(table, "w/a", Json("1"));
        await Client.PutAsync(table, "other", Json("0"));
        await Client.PutAsync(table, "w/b", Json("2"));
        Assert.True(await Client.DeleteAsync(table, "w/a"));

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<WatchEvent>();
        await foreach (var change in Client.WatchAsync(table, "w/", fromRevision: 1, cancellationToken: stop.Token))
        {
            if (change.Type is "put" or "delete")
            {
                seen.Add(change);
            }

            if (seen.Count == 3)
            {
                break;
            }
        }

        Assert.Equal([("put", "w/a"), ("delete", "w/a")], seen.Where(e => e.Key == "w/a").Select(e => (e.Type, e.Key)));
        Assert.Contains(seen, e => e is { Type: "put", Key: "w/b" } && e.Value.GetRawText() == "2");

        await Client.PutAsync(table, "w/c", Json("3"));
        await foreach (var change in Client.WatchAsync(table, "w/", cursor: seen[^1].Cursor, cancellationToken: stop.Token))
        {
            if (change.Type is "put" or "delete")
            {
                Assert.Equal("w/c", change.Key);
                break;
            }
        }
    }

    [Fact]
    public async Task Scans_page_through_every_key_in_order()
    {
        var table = Names.Table();
        await Client.CreateTableAsync(table, new TableOptions(Shards: 4));
        var keys = Enumerable.Range(0, 25).Select(i => $"p/{i:D2}").ToList();
        var results = await Client.BatchAsync(table, keys.Select(k => BatchOp.Put(k, Json("1"))));

        var scanned = await Client.ScanAsync(table, "p/", pageSize: 7).Select(k => k.Key).ToListAsync();

        Assert.All(results, r => Assert.Equal(201, r.Status));
        Assert.Equal(keys, scanned);
    }

    [Fact]
    public async Task A_transaction_moves_money_and_a_failed_compare_runs_the_failure_branch()
    {
        var table = Names.Table();
        await Client.CreateTableAsync(table, new TableOptions(Transactional: true, Shards: 2));
        await Client.PutAsync(table, "alice", 10);

        var moved = await Client.TransactAsync(new TxnRequest(
            [new TxnCompare(table, "alice", "value", ">=", Json("10"))],
            [TxnOp.Add(table, "alice", -10), TxnOp.Add(table, "bob", 10)],
            [TxnOp.Get(table, "alice")]));
        var refused = await Client.TransactAsync(new TxnRequest(
            [new TxnCompare(table, "alice", "value", ">=", Json("10"))],
            [TxnOp.Add(table, "alice", -10)],
            [TxnOp.Get(table, "alice")]));

        Assert.True(moved.Succeeded);
        Assert.False(refused.Succeeded);
        Assert.Equal(0, refused.Results[0].Value!.Value.GetDouble());
        Assert.Equal(10, (await Client.GetAsync(table, "bob"))!.Value.GetDouble());
    }

    [Fact]
    public async Task A_job_is_followed_through_its_event_stream_to_its_result()
    {
        var accepted = await Client.SubmitJobAsync(new JobSpec("primes", Json("{\"from\": 1, \"to\": 10000, \"chunkSize\": 2500}")), idempotencyKey: Guid.NewGuid().ToString());

        var seen = await Client.FollowJobAsync(accepted.Id).ToListAsync();
        var listed = await Client.ListJobsAsync().AnyAsync(j => j.Id == accepted.Id);

        Assert.Equal(JobStatuses.Succeeded, seen[^1].Status);
        Assert.Equal(1229, seen[^1].Result!.Value.GetProperty("count").GetInt32());
        Assert.Equal(4, seen[^1].Progress.Total);
        Assert.True(listed);
        Assert.Equal(4, await Client.ListTasksAsync(accepted.Id).CountAsync());
    }

    [Fact]
    public async Task FollowJobAsync_reopens_an_event_stream_that_breaks_and_follows_the_job_to_its_end()
    {
        var breaker = new FirstEventStreamBreaks(fixture.Cluster.Api.Server.CreateHandler());
        var client = OrleansComputeClient.Create(new Uri("http://localhost/"), TestKeys.Admin, breaker);
        // About 2 s of work, one task at a time: the stream is broken while the job runs.
        var accepted = await client.SubmitJobAsync(new JobSpec("sleep", Json("{\"tasks\": 5, \"milliseconds\": 400}"), Parallelism: 1));

        var seen = await client.FollowJobAsync(accepted.Id).ToListAsync();

        Assert.True(breaker.Broken);
        Assert.True(breaker.Opened >= 2, $"{breaker.Opened} streams opened");
        Assert.Equal(JobStatuses.Succeeded, seen[^1].Status);
        Assert.Equal(5, seen[^1].Progress.Succeeded);
        Assert.Single(seen, j => j.IsFinished);
    }

    /// <summary>Breaks the first job event stream after its first event, as a lost connection to an Api instance does.</summary>
    private sealed class FirstEventStreamBreaks(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private int _opened;
        private BreakingStream? _breaking;

        public int Opened => Volatile.Read(ref _opened);

        public bool Broken => _breaking?.Broke == true;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.RequestUri!.AbsolutePath.EndsWith("/events", StringComparison.Ordinal) && Interlocked.Increment(ref _opened) == 1)
            {
                _breaking = new BreakingStream(await response.Content.ReadAsStreamAsync(cancellationToken));
                var content = new StreamContent(_breaking);
                foreach (var header in response.Content.Headers)
                {
                    content.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }

                response.Content = content;
            }

            return response;
        }
    }

    private sealed class BreakingStream(Stream inner) : Stream
    {
        private bool _eventRead;

        public bool Broke { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            BreakAfterAnEvent();
            var read = await inner.ReadAsync(buffer, cancellationToken);
            return Seen(buffer.Span, read);
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            BreakAfterAnEvent();
            return Seen(buffer.AsSpan(offset, count), inner.Read(buffer, offset, count));
        }

        private void BreakAfterAnEvent()
        {
            if (_eventRead)
            {
                Broke = true;
                throw new IOException("The connection was reset (injected by the test).");
            }
        }

        private int Seen(ReadOnlySpan<byte> buffer, int read)
        {
            _eventRead = buffer[..read].IndexOf("\n\n"u8) >= 0;
            return read;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    [Fact]
    public async Task Jobs_retry_delete_list_with_filters_and_schedules_trigger_and_show_their_runs()
    {
        var tenant = Names.Table("tn");
        await Client.CreateTenantAsync(tenant);
        var client = OrleansComputeClient.Create(
            new Uri("http://localhost/"), (await Client.IssueKeyAsync(tenant, "jobs", ["jobs"])).Key, fixture.Cluster.Api.Server.CreateHandler());
        var failing = new JobSpec("sleep", Json("{\"tasks\": 2, \"milliseconds\": 1, \"failAttempts\": 1}"), new RetryPolicy(MaxAttempts: 1));
        var failed = await client.SubmitJobAsync(failing);
        Assert.Equal(JobStatuses.Failed, (await client.WaitForJobAsync(failed.Id)).Status);

        var retry = await client.RetryJobAsync(failed.Id);
        var again = await client.RetryJobAsync(failed.Id);
        var retried = await client.WaitForJobAsync(retry.Id);
        var active = await client.SubmitJobAsync(new JobSpec("sleep", Json("{\"tasks\": 1, \"milliseconds\": 60000}")));
        var conflict = await Assert.ThrowsAsync<OrleansComputeException>(() => client.DeleteJobAsync(active.Id));
        var cancelled = await client.CancelJobAsync(active.Id);

        Assert.Equal(retry.Id, again.Id);
        Assert.Equal(failed.Id, retried.RetryOf);
        Assert.Equal((HttpStatusCode.Conflict, 1), (conflict.Status, cancelled.Progress.Cancelled));
        Assert.Equal([active.Id, retry.Id, failed.Id], await client.ListJobsAsync(new JobFilter(Kind: "sleep")).Select(j => j.Id).ToListAsync());
        Assert.Equal([retry.Id, failed.Id], await client.ListJobsAsync(new JobFilter(Status: JobStatuses.Failed, CreatedBefore: DateTimeOffset.UtcNow.AddMinutes(1))).Select(j => j.Id).ToListAsync());
        Assert.Equal(failed.Id, (await client.ListJobsAsync(new JobFilter(CreatedAfter: retried.CreatedAt)).SingleAsync(j => j.Id == retry.Id)).RetryOf);
        Assert.True(await client.DeleteJobAsync(failed.Id));
        Assert.False(await client.DeleteJobAsync(failed.Id));
        Assert.Null(await client.GetJobAsync(failed.Id));

        var name = Names.Table("s");
        await client.PutScheduleAsync(name, new ScheduleSpec("0 0 1 1 *", new JobSpec("primes", Json("{\"from\": 1, \"to\": 10}"))));
        var triggered = await client.TriggerScheduleAsync(name);
        Assert.Equal(JobStatuses.Succeeded, (await client.WaitForJobAsync(triggered.Id)).Status);
        var run = await client.ListScheduleRunsAsync(name).SingleAsync();
        Assert.Equal((triggered.Id, name, JobStatuses.Succeeded), (run.Id, run.Schedule, run.Status));
        Assert.Equal(triggered.Id, (await client.GetScheduleAsync(name))!.LastJobId);
    }

    [Fact]
    public async Task Schedules_admin_cluster_and_task_kinds_are_typed()
    {
        var name = Names.Table("s");
        var schedule = await Client.PutScheduleAsync(name, new ScheduleSpec("0 0 1 1 *", new JobSpec("primes", Json("{\"from\": 1, \"to\": 10}"))));
        var paused = await Client.PauseScheduleAsync(name);
        var tenant = Names.Table("tn");
        await Client.CreateTenantAsync(tenant);
        var key = await Client.IssueKeyAsync(tenant, "reader", ["data:read"]);

        Assert.Equal("0 0 1 1 *", schedule.Cron);
        Assert.True(paused.Paused);
        Assert.True(await Client.DeleteScheduleAsync(name));
        Assert.Contains(await Client.ListTenantsAsync().Select(t => t.Name).ToListAsync(), n => n == tenant);
        Assert.Equal(["data:read"], (await Client.ListKeysAsync(tenant).SingleAsync(k => k.Id == key.Id)).Scopes);
        Assert.Equal(2, (await Client.GetClusterAsync()).Silos.Count(s => s.Status == "Active"));
        Assert.Contains(await Client.ListTaskKindsAsync().Select(k => k.Name).ToListAsync(), n => n == "primes");
    }

    [Fact]
    public async Task Problem_answers_are_typed_exceptions_with_the_field_errors()
    {
        var error = await Assert.ThrowsAsync<OrleansComputeException>(() => Client.CreateTableAsync(Names.Table(), new TableOptions(Shards: 0)));

        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal("validation", error.Kind);
        Assert.True(error.Errors.ContainsKey("shards"));
    }
}
