using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Data;
using OrleansCompute.Grains.Jobs;
using OrleansCompute.Tenancy;
using OrleansCompute.Tests.Infrastructure;
using OrleansCompute.Transactions;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Jobs;

/// <summary>SPEC §4.3 through the REST API on two silos with PostgreSQL: one test per rule.</summary>
[Collection(SharedClusterCollection.Name)]
public class JobApiTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Primes_gives_the_right_count_and_its_tasks_run_on_every_silo()
    {
        var id = await Http.SubmitAsync("""{"kind": "primes", "input": {"from": 1, "to": 2000000, "chunkSize": 50000}}""");

        var job = await Http.WaitForEndAsync(id);

        Assert.Equal("succeeded", job.Status());
        Assert.Equal(148_933, job.GetProperty("result").GetProperty("count").GetInt64());
        Assert.Equal(40, job.Progress("succeeded"));
        var silos = (await Http.TasksAsync(id)).Select(t => t.GetProperty("silo").GetString()).Distinct().ToList();
        Assert.Equal(fixture.Cluster.Silos.Count, silos.Count);
    }

    [Fact]
    public async Task Wordcount_and_aggregate_read_every_shard_of_a_table()
    {
        var table = Names.Table("words");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("{\"shards\": 8}"))).StatusCode);
        await PutWordsAndPricesAsync(table);

        var (words, _) = await AssertWordsAndPricesAsync(table);

        Assert.Equal(8, words.Progress("total")); // one task per shard
    }

    [Fact]
    public async Task Wordcount_and_aggregate_read_the_committed_keys_of_a_transactional_table_on_the_silos_of_its_shards()
    {
        // Issue 12, defect 2: both kinds planned one task per shard grain, where transactional keys
        // never are, and "succeeded" with zero results.
        var table = Names.Table("txnwords");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("{\"transactional\": true, \"shards\": 4}"))).StatusCode);
        await PutWordsAndPricesAsync(table);
        // A key whose delete committed counts no more.
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}/keys/gone", Json("{\"price\": 1000, \"text\": \"gone gone\"}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/tables/{table}/keys/gone")).StatusCode);

        var (words, _) = await AssertWordsAndPricesAsync(table);

        Assert.Equal(4, words.Progress("total")); // one task per shard
        // Data-local: each task ran on the silo of its shard's key index.
        var grains = fixture.Cluster.Silos[0].Grains;
        var info = (await grains.GetGrain<ITableGrain>(TenantKey.For(TenantKey.DefaultTenant, table)).DescribeAsync())!;
        foreach (var task in await Http.TasksAsync(words.GetProperty("id").GetString()!))
        {
            var index = task.GetProperty("index").GetInt32();
            var silo = await grains.GetGrain<ITransactionalKeyIndexGrain>(TxnKeys.IndexGrain(TenantKey.DefaultTenant, info.Id, index)).SiloAsync();
            Assert.Equal(silo, task.GetProperty("silo").GetString());
        }
    }

    /// <summary>Seven values: ten words (cat 3, the 3, hat 2, …) and three prices (10, 2.5, −1).</summary>
    private async Task PutWordsAndPricesAsync(string table)
    {
        string[] values =
        [
            "\"The cat and the hat\"", "\"the Dog\"", "{\"text\": \"cat cat\", \"price\": 10}", "{\"price\": 2.5}",
            "{\"price\": -1, \"note\": \"Hat\"}", "42", "\"\"",
        ];
        for (var i = 0; i < values.Length; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}/keys/k{i}", Json(values[i]))).StatusCode);
        }
    }

    /// <summary>Runs wordcount and aggregate over the values of <see cref="PutWordsAndPricesAsync"/> and checks their answers.</summary>
    private async Task<(JsonElement Words, JsonElement Sum)> AssertWordsAndPricesAsync(string table)
    {
        var words = await Http.WaitForEndAsync(await Http.SubmitAsync($$$"""{"kind": "wordcount", "input": {"table": "{{{table}}}", "top": 3}}"""));
        var sum = await Http.WaitForEndAsync(await Http.SubmitAsync($$$"""{"kind": "aggregate", "input": {"table": "{{{table}}}", "field": "price"}}"""));

        Assert.Equal(("succeeded", "succeeded"), (words.Status(), sum.Status()));
        var result = words.GetProperty("result");
        Assert.Equal(10, result.GetProperty("words").GetInt64());
        Assert.Equal(
            [("cat", 3L), ("the", 3L), ("hat", 2L)],
            result.GetProperty("top").EnumerateArray().Select(w => (w.GetProperty("word").GetString()!, w.GetProperty("count").GetInt64())));
        var aggregate = sum.GetProperty("result");
        Assert.Equal((3L, 11.5, -1.0, 10.0), (aggregate.GetProperty("count").GetInt64(), aggregate.GetProperty("sum").GetDouble(),
            aggregate.GetProperty("min").GetDouble(), aggregate.GetProperty("max").GetDouble()));
        Assert.Equal(11.5 / 3, aggregate.GetProperty("avg").GetDouble(), 9);
        return (words, sum);
    }

    [Fact]
    public async Task Data_tasks_run_on_the_silo_that_hosts_their_shard()
    {
        var table = Names.Table("local");
        await Http.PutAsync($"/v1/tables/{table}", Json("{\"shards\": 6}"));
        var shards = (await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/shards")).GetProperty("items").EnumerateArray()
            .ToDictionary(s => s.GetProperty("shard").GetInt32(), s => s.GetProperty("silo").GetString());

        var id = await Http.SubmitAsync($$$"""{"kind": "wordcount", "input": {"table": "{{{table}}}"}}""");
        await Http.WaitForEndAsync(id);

        var tasks = await Http.TasksAsync(id);
        Assert.Equal(6, tasks.Length);
        Assert.All(tasks, t => Assert.Equal(shards[t.GetProperty("index").GetInt32()], t.GetProperty("silo").GetString()));
    }

    [Fact]
    public async Task A_task_that_throws_is_retried_until_it_succeeds()
    {
        var id = await Http.SubmitAsync("""
            {"kind": "sleep", "input": {"tasks": 3, "milliseconds": 10, "failAttempts": 2}, "retry": {"maxAttempts": 3, "backoffSeconds": 0.05}}
            """);

        var job = await Http.WaitForEndAsync(id);

        Assert.Equal("succeeded", job.Status());
        Assert.Equal(9, job.GetProperty("attempts").GetInt32());
        Assert.All(await Http.TasksAsync(id), t => Assert.Equal(3, t.GetProperty("attempts").GetInt32()));
    }

    [Fact]
    public async Task A_task_that_keeps_throwing_fails_the_job_after_max_attempts()
    {
        var id = await Http.SubmitAsync("""
            {"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1, "failAttempts": 5}, "retry": {"maxAttempts": 2, "backoffSeconds": 0.05}}
            """);

        var job = await Http.WaitForEndAsync(id);

        Assert.Equal("failed", job.Status());
        Assert.Contains("failed after 2 attempt(s)", job.GetProperty("error").GetString());
        var task = Assert.Single(await Http.TasksAsync(id));
        Assert.Equal(("failed", 2), (task.GetProperty("status").GetString(), task.GetProperty("attempts").GetInt32()));
        Assert.Contains("fails on purpose", task.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_task_past_its_timeout_is_cancelled_and_counts_as_a_failed_attempt()
    {
        var id = await Http.SubmitAsync("""
            {"kind": "sleep", "input": {"tasks": 1, "milliseconds": 600000}, "timeoutSeconds": 1, "retry": {"maxAttempts": 2, "backoffSeconds": 0}}
            """);

        var job = await Http.WaitForEndAsync(id);

        Assert.Equal("failed", job.Status());
        var task = Assert.Single(await Http.TasksAsync(id));
        Assert.Equal(2, task.GetProperty("attempts").GetInt32());
        Assert.Contains("timed out after 1 s", task.GetProperty("error").GetString());
        // Each attempt ended about when its timeout fired, not when the ten-minute sleep would have.
        Assert.True(job.GetProperty("finishedAt").GetDateTimeOffset() - job.GetProperty("startedAt").GetDateTimeOffset() < TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Cancel_stops_the_running_tasks_on_every_silo()
    {
        var id = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 6, "milliseconds": 600000}, "parallelism": 6}""");
        await Eventually.WaitAsync(async () => (await Http.JobAsync(id)).Progress("running") == 6, JobClient.JobTimeout, "all tasks running");
        Assert.All(fixture.Cluster.Silos, s => Assert.True(Runner(s).Running > 0, "tasks should run on every silo"));

        var response = await Http.PostAsync($"/v1/jobs/{id}/cancel", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("cancelled", (await response.Content.ReadFromJsonAsync<JsonElement>()).Status());
        // The bodies really stop: every silo's runner is idle again, long before the sleeps would end.
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Cluster.Silos.All(s => Runner(s).Running == 0)), TimeSpan.FromSeconds(15), "runners idle");
        var job = await Http.JobAsync(id);
        Assert.Equal(("cancelled", 0, 0), (job.Status(), job.Progress("running"), job.Progress("succeeded")));
        await AssertProblemAsync(await Http.PostAsync($"/v1/jobs/{id}/resume", null), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Pause_stops_handing_out_tasks_and_resume_goes_on()
    {
        var id = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 6, "milliseconds": 300}, "parallelism": 1}""");
        await Eventually.WaitAsync(async () => (await Http.JobAsync(id)).Progress("succeeded") >= 1, JobClient.JobTimeout, "a first task done");

        var paused = await Http.PostAsync($"/v1/jobs/{id}/pause", null);
        Assert.Equal(HttpStatusCode.Accepted, paused.StatusCode);
        var pausedAt = (await paused.Content.ReadFromJsonAsync<JsonElement>()).Status();
        Assert.Equal("paused", pausedAt);
        // The running task finishes; nothing new starts while paused.
        await Eventually.WaitAsync(async () => (await Http.JobAsync(id)).Progress("running") == 0, JobClient.JobTimeout, "running task done");
        var whilePaused = await Http.JobAsync(id);
        var doneWhilePaused = whilePaused.Progress("succeeded");
        var resumedAt = DateTimeOffset.UtcNow;

        Assert.Equal(HttpStatusCode.Accepted, (await Http.PostAsync($"/v1/jobs/{id}/resume", null)).StatusCode);
        var job = await Http.WaitForEndAsync(id);

        Assert.Equal("paused", whilePaused.Status());
        Assert.True(doneWhilePaused < 6);
        Assert.Equal("succeeded", job.Status());
        // Exactly the tasks done while paused started before the resume.
        var tasks = await Http.TasksAsync(id);
        Assert.Equal(doneWhilePaused, tasks.Count(t => t.GetProperty("startedAt").GetDateTimeOffset() < resumedAt));
    }

    [Fact]
    public async Task The_same_idempotency_key_returns_the_same_job()
    {
        var key = Guid.NewGuid().ToString();
        const string spec = """{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}""";

        var first = await Http.PostJobAsync(spec, key);
        var second = await Http.PostJobAsync("""{"input": {"milliseconds": 1, "tasks": 1},  "kind": "sleep"}""", key);
        var different = await Http.PostJobAsync("""{"kind": "sleep", "input": {"tasks": 2, "milliseconds": 1}}""", key);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.True(second.Headers.Contains("Idempotent-Replayed"));
        await AssertProblemAsync(different, HttpStatusCode.Conflict);
        var id = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        Assert.Equal(1, (await Http.WaitForEndAsync(id)).Progress("total"));
    }

    [Fact]
    public async Task A_job_starts_only_after_the_jobs_it_depends_on_succeed()
    {
        var first = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 2, "milliseconds": 1500}}""");
        var second = await Http.SubmitAsync($$"""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}, "dependsOn": ["{{first}}"]}""");

        Assert.Equal("queued", (await Http.JobAsync(second)).Status());
        var done = await Http.WaitForEndAsync(second);
        var before = await Http.JobAsync(first);

        Assert.Equal(("succeeded", "succeeded"), (before.Status(), done.Status()));
        Assert.True(done.GetProperty("startedAt").GetDateTimeOffset() >= before.GetProperty("finishedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task A_job_whose_dependency_fails_fails_without_running()
    {
        var first = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1, "failAttempts": 9}, "retry": {"maxAttempts": 1}}""");
        var second = await Http.SubmitAsync($$"""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}, "dependsOn": ["{{first}}"]}""");

        var job = await Http.WaitForEndAsync(second);

        Assert.Equal("failed", job.Status());
        Assert.Contains($"dependency '{first}' ended failed", job.GetProperty("error").GetString());
        Assert.Equal(0, job.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task RunAt_delays_the_start()
    {
        // Whole milliseconds: the Api shows times to the millisecond, so a runAt with finer ticks
        // could read as later than a startedAt that was not earlier than it.
        var runAt = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddSeconds(2).ToUnixTimeMilliseconds());
        var id = await Http.SubmitAsync($$"""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}, "runAt": "{{runAt:O}}"}""");

        Assert.Equal("queued", (await Http.JobAsync(id)).Status());
        var job = await Http.WaitForEndAsync(id);

        Assert.Equal("succeeded", job.Status());
        Assert.True(job.GetProperty("startedAt").GetDateTimeOffset() >= runAt);
    }

    [Fact]
    public async Task Higher_priority_tasks_overtake_queued_ones()
    {
        var slots = fixture.Cluster.Silos.Sum(s => s.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<JobOptions>>().Value.SlotsPerSilo);
        var low = await Http.SubmitAsync($$"""{"kind": "sleep", "input": {"tasks": {{slots * 3}}, "milliseconds": 700}, "parallelism": 1024}""");
        await Eventually.WaitAsync(async () => (await Http.JobAsync(low)).Progress("running") == slots * 3, JobClient.JobTimeout, "low job handed out");

        var high = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 2, "milliseconds": 1}, "priority": 10}""");
        var highJob = await Http.WaitForEndAsync(high);
        var lowJob = await Http.WaitForEndAsync(low);

        // The high-priority tasks ran as soon as the first slots freed up, ahead of the low job's queue.
        var highFinished = highJob.GetProperty("finishedAt").GetDateTimeOffset();
        var lowFinishedLater = (await Http.TasksAsync(low)).Count(t => t.GetProperty("finishedAt").GetDateTimeOffset() > highFinished);
        Assert.True(lowFinishedLater >= slots, $"only {lowFinishedLater} low-priority tasks finished after the high-priority job");
        Assert.Equal("succeeded", lowJob.Status());
    }

    [Fact]
    public async Task Events_stream_progress_until_the_job_ends()
    {
        var id = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 3, "milliseconds": 200}, "parallelism": 1}""");

        var stream = await Http.GetStringAsync($"/v1/jobs/{id}/events");

        var events = stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.True(events.Length >= 2, stream);
        Assert.StartsWith("event: progress", events[0]);
        Assert.StartsWith("event: end", events[^1]);
        var last = JsonDocument.Parse(events[^1].Split('\n').Single(l => l.StartsWith("data: "))["data: ".Length..]).RootElement;
        Assert.Equal(("succeeded", 3), (last.Status(), last.Progress("succeeded")));
    }

    [Fact]
    public async Task Events_stream_a_job_that_stays_unchanged_past_the_answer_bound_without_breaking_or_repeating()
    {
        // One task of 7 s: the job shows no change for longer than a grain call may take (4.75 s).
        var id = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 7000}}""");

        var stream = await Http.GetStringAsync($"/v1/jobs/{id}/events");

        var events = stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("event: end", events[^1]);
        // Each event is a change: the long poll waited it out, rather than timing out and saying the same again.
        var versions = events.Select(e => e.Split('\n').Single(l => l.StartsWith("id: "))).ToList();
        Assert.Equal(versions.Count, versions.Distinct().Count());
    }

    [Fact]
    public async Task Jobs_are_listed_by_status_newest_first()
    {
        var id = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}""");
        await Http.WaitForEndAsync(id);

        var all = new List<string>();
        string? after = null;
        do
        {
            var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/jobs?status=succeeded&limit=50{(after is null ? "" : $"&after={after}")}");
            all.AddRange(page.GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetString()!));
            Assert.All(page.GetProperty("items").EnumerateArray(), j => Assert.Equal("succeeded", j.Status()));
            after = page.GetProperty("next").GetString();
        }
        while (after is not null);

        Assert.Contains(id, all);
        Assert.Equal(all.OrderDescending(StringComparer.Ordinal), all); // ids begin with their creation time
        await AssertProblemAsync(await Http.GetAsync("/v1/jobs?status=done"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Task_kinds_publish_their_input_schemas()
    {
        var page = await Http.GetFromJsonAsync<JsonElement>("/v1/task-kinds");
        Assert.Equal(JsonValueKind.Null, page.GetProperty("next").ValueKind);
        var kinds = page.GetProperty("items");

        var names = kinds.EnumerateArray().Select(k => k.GetProperty("name").GetString()).ToList();
        Assert.Equal(["aggregate", "primes", "sleep", "wordcount"], names);
        var primes = kinds.EnumerateArray().Single(k => k.GetProperty("name").GetString() == "primes").GetProperty("inputSchema");
        Assert.Equal("object", primes.GetProperty("type").GetString());
        Assert.Equal(["from", "to"], primes.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("integer", primes.GetProperty("properties").GetProperty("chunkSize").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("""{"kind": "primes", "input": {"from": 1, "to": 10}, "colour": "red"}""", null)]
    [InlineData("""{"input": {}}""", "kind")]
    [InlineData("""{"kind": "fibonacci"}""", "kind")]
    [InlineData("""{"kind": "primes", "input": {"from": "one", "to": 10}}""", "input.from")]
    [InlineData("""{"kind": "primes", "input": {"to": 10}}""", "input.from")]
    [InlineData("""{"kind": "primes", "input": {"from": 10, "to": 1}}""", "input.to")]
    [InlineData("""{"kind": "primes", "input": {"from": 1, "to": 10, "step": 2}}""", "input.step")]
    [InlineData("""{"kind": "primes", "input": [1, 10]}""", "input")]
    [InlineData("""{"kind": "sleep", "parallelism": 0}""", "parallelism")]
    [InlineData("""{"kind": "sleep", "retry": {"maxAttempts": 0}}""", "retry.maxAttempts")]
    [InlineData("""{"kind": "sleep", "timeoutSeconds": -5}""", "timeoutSeconds")]
    [InlineData("""{"kind": "sleep", "dependsOn": ["0123456789abcdef0123"]}""", "dependsOn[0]")]
    [InlineData("""{"kind": "sleep", "input": {"tasks": 200000}}""", "input")]
    [InlineData("""{"kind": "wordcount", "input": {"table": "no-such-table"}}""", "input.table")]
    [InlineData("""{"kind": "sleep", "timeoutSeconds": "soon"}""", null)]
    public async Task Bad_specs_are_400_naming_the_field_and_create_nothing(string spec, string? field)
    {
        var before = await CountJobsAsync();

        var problem = await AssertProblemAsync(await Http.PostJobAsync(spec), HttpStatusCode.BadRequest);

        if (field is not null)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }

        Assert.Equal(before, await CountJobsAsync());
    }

    [Fact]
    public async Task Task_pages_follow_the_cursor_and_a_forged_cursor_is_harmless()
    {
        var id = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 5, "milliseconds": 1}}""");
        await Http.WaitForEndAsync(id);

        var first = await Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}/tasks?limit=3");
        var second = await Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}/tasks?limit=3&after={first.GetProperty("next").GetString()}");
        var forged = await Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}/tasks?after={Convert.ToBase64String("-9"u8.ToArray()).TrimEnd('=')}");

        Assert.Equal([0, 1, 2, 3, 4], first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray()).Select(t => t.GetProperty("index").GetInt32()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);
        Assert.Equal(5, forged.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Unknown_jobs_are_404()
    {
        foreach (var path in new[] { "/v1/jobs/0123456789abcdef0123", "/v1/jobs/not-an-id", "/v1/jobs/0123456789abcdef0123/tasks", "/v1/jobs/0123456789abcdef0123/events" })
        {
            await AssertProblemAsync(await Http.GetAsync(path), HttpStatusCode.NotFound);
        }

        await AssertProblemAsync(await Http.PostAsync("/v1/jobs/0123456789abcdef0123/cancel", null), HttpStatusCode.NotFound);
    }

    // API1: another tenant's job does not exist for you.
    [Fact]
    public async Task Another_tenants_jobs_answer_404()
    {
        var acme = await Http.TenantClientAsync(fixture.Cluster.Api);
        var globex = await Http.TenantClientAsync(fixture.Cluster.Api);
        var id = await acme.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}""");

        await AssertProblemAsync(await globex.GetAsync($"/v1/jobs/{id}"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.GetAsync($"/v1/jobs/{id}/tasks"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.PostAsync($"/v1/jobs/{id}/cancel", null), HttpStatusCode.NotFound);
        Assert.Empty((await globex.GetFromJsonAsync<JsonElement>("/v1/jobs")).GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.Created, (await acme.PutAsync("/v1/schedules/nightly", Json("""{"cron": "0 3 * * *", "job": {"kind": "sleep"}}"""))).StatusCode);
        await AssertProblemAsync(await globex.GetAsync("/v1/schedules/nightly"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.DeleteAsync("/v1/schedules/nightly"), HttpStatusCode.NotFound);
        Assert.Empty((await globex.GetFromJsonAsync<JsonElement>("/v1/schedules")).GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.NoContent, (await acme.DeleteAsync("/v1/schedules/nightly")).StatusCode);
        Assert.Equal("succeeded", (await acme.WaitForEndAsync(id)).Status());
    }

    [Fact]
    public async Task Jobs_need_the_jobs_scope()
    {
        var reader = await Http.TenantClientAsync(fixture.Cluster.Api, "[\"data:read\", \"data:write\"]");

        await AssertProblemAsync(await reader.PostJobAsync("""{"kind": "sleep"}"""), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await reader.GetAsync("/v1/jobs"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await reader.GetAsync("/v1/schedules"), HttpStatusCode.Forbidden);
    }

    private static TaskRunner Runner(InProcessSilo silo) => silo.Services.GetRequiredService<TaskRunner>();

    private Task<long> CountJobsAsync() =>
        TestDatabase.ScalarAsync<long>(fixture.Cluster.ConnectionString, "SELECT COUNT(*) FROM oc_job");
}
