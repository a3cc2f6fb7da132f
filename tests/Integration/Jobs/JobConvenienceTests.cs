using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Jobs;

/// <summary>
/// Issue 13's job conveniences through the REST API on two silos with PostgreSQL: retry, delete,
/// filtered listing, a schedule's trigger and runs. Each test has a tenant of its own, so lists
/// hold only its jobs.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public class JobConvenienceTests(SharedClusterFixture fixture)
{
    private const string QuickJob = """{"kind": "sleep", "input": {"tasks": 2, "milliseconds": 1}}""";
    private const string FailingJob = """{"kind": "sleep", "input": {"tasks": 2, "milliseconds": 1, "failAttempts": 1}, "retry": {"maxAttempts": 1}}""";

    [Fact]
    public async Task A_failed_job_retries_as_one_new_linked_job_however_many_retries_race_and_the_store_keeps_the_link()
    {
        var (http, tenant) = await TenantAsync();
        var failed = await http.SubmitAsync(FailingJob);
        Assert.Equal("failed", (await http.WaitForEndAsync(failed)).Status());

        var responses = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => http.PostAsync($"/v1/jobs/{failed}/retry", null)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        var ids = await Task.WhenAll(responses.Select(async r => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!));
        var retry = Assert.Single(ids.Distinct());
        Assert.NotEqual(failed, retry);
        Assert.Equal($"/v1/jobs/{retry}", responses[0].Headers.Location?.OriginalString);
        Assert.Equal(4, responses.Count(r => r.Headers.Contains("Idempotent-Replayed")));
        var job = await http.WaitForEndAsync(retry);
        Assert.Equal(failed, job.GetProperty("retryOf").GetString());
        Assert.Equal("sleep", job.GetProperty("kind").GetString());
        Assert.Equal("failed", (await http.JobAsync(failed)).Status()); // the old run stays as it was
        // The link is a row, not memory: any silo, after any restart, finds the same retry.
        var store = fixture.Cluster.Silos[^1].Services.GetRequiredService<IJobStore>();
        Assert.Equal(retry, (await store.FindByIdempotencyKeyAsync(tenant, JobOrigins.RetryKey(failed), default))?.JobId);
        Assert.Equal(retry, (await (await http.PostAsync($"/v1/jobs/{failed}/retry", null)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_cancelled_job_retries_now_even_if_it_waited_for_runAt_and_succeeds()
    {
        var (http, _) = await TenantAsync();
        var cancelled = await http.SubmitAsync($$"""{"kind": "sleep", "input": {"tasks": 3, "milliseconds": 1}, "runAt": "{{DateTimeOffset.UtcNow.AddHours(1):O}}"}""");
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/v1/jobs/{cancelled}/cancel", null)).StatusCode);

        var response = await http.PostAsync($"/v1/jobs/{cancelled}/retry", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var retry = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var job = await http.WaitForEndAsync(retry);
        Assert.Equal(("succeeded", 3), (job.Status(), job.GetProperty("result").GetProperty("tasks").GetInt32()));
        // The cancelled job shows its tasks as cancelled, in its progress and in its task list.
        var old = await http.JobAsync(cancelled);
        Assert.Equal((3, 0), (old.Progress("cancelled"), old.Progress("pending")));
        Assert.All(await http.TasksAsync(cancelled), t => Assert.Equal("cancelled", t.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task Only_failed_and_cancelled_jobs_retry_and_engine_keys_are_refused_to_callers()
    {
        var (http, _) = await TenantAsync();
        var succeeded = await http.SubmitAsync(QuickJob);
        await http.WaitForEndAsync(succeeded);
        var running = await http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 60000}}""");

        var problem = await AssertProblemAsync(await http.PostAsync($"/v1/jobs/{succeeded}/retry", null), HttpStatusCode.Conflict);
        Assert.Contains("succeeded", problem.GetProperty("detail").GetString());
        await AssertProblemAsync(await http.PostAsync($"/v1/jobs/{running}/retry", null), HttpStatusCode.Conflict);
        await AssertProblemAsync(await http.PostAsync("/v1/jobs/00000000000000000000/retry", null), HttpStatusCode.NotFound);
        await AssertProblemAsync(await http.PostAsync("/v1/jobs/nope/retry", null), HttpStatusCode.NotFound);
        var reserved = await AssertProblemAsync(await http.PostJobAsync(QuickJob, JobOrigins.RetryKey(succeeded)), HttpStatusCode.BadRequest);
        Assert.True(reserved.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
        Assert.Equal(2, (await ListAsync(http, "")).Count); // the refused submission made nothing
        await http.PostAsync($"/v1/jobs/{running}/cancel", null);
    }

    [Fact]
    public async Task Delete_removes_an_ended_job_and_refuses_an_active_one()
    {
        var (http, _) = await TenantAsync();
        var active = await http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 60000}}""");
        var ended = await http.SubmitAsync(QuickJob);
        await http.WaitForEndAsync(ended);

        await AssertProblemAsync(await http.DeleteAsync($"/v1/jobs/{active}"), HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/v1/jobs/{ended}")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/jobs/{ended}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/jobs/{ended}/tasks")).StatusCode);
        await AssertProblemAsync(await http.DeleteAsync($"/v1/jobs/{ended}"), HttpStatusCode.NotFound);
        Assert.Equal([active], await IdsAsync(http, ""));
        Assert.Equal("running", (await http.JobAsync(active)).Status());
        await http.PostAsync($"/v1/jobs/{active}/cancel", null);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/v1/jobs/{active}")).StatusCode); // cancelled is ended
    }

    [Fact]
    public async Task Jobs_list_newest_first_filtered_by_kind_time_and_status_page_by_page()
    {
        var (http, _) = await TenantAsync();
        var first = await http.SubmitAsync(QuickJob);
        var middle = await http.SubmitAsync("""{"kind": "primes", "input": {"from": 1, "to": 1000}}""");
        var created = (await http.JobAsync(middle)).GetProperty("createdAt").GetDateTimeOffset();
        var last = await http.SubmitAsync(QuickJob);
        foreach (var id in new[] { first, middle, last })
        {
            await http.WaitForEndAsync(id);
        }

        Assert.Equal([last, middle, first], await IdsAsync(http, ""));
        Assert.Equal([middle], await IdsAsync(http, "kind=primes"));
        Assert.Equal([last, first], await IdsAsync(http, "kind=sleep&status=succeeded"));
        var at = Uri.EscapeDataString(created.ToString("O"));
        Assert.Equal([last, middle], await IdsAsync(http, $"createdAfter={at}"));
        Assert.Equal([first], await IdsAsync(http, $"createdBefore={at}"));
        var page = await http.GetFromJsonAsync<JsonElement>("/v1/jobs?limit=2");
        Assert.Equal([last, middle], page.GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetString()!));
        Assert.Equal([first], await IdsAsync(http, $"after={page.GetProperty("next").GetString()}"));
    }

    [Theory]
    [InlineData("kind=nosuchkind", "kind")]
    [InlineData("schedule=Bad%20Name", "schedule")]
    [InlineData("createdAfter=yesterday", "createdAfter")]
    [InlineData("createdBefore=2026-12-01T10:00:00", "createdBefore")]
    [InlineData("createdAfter=2026-12-02T00:00:00Z&createdBefore=2026-12-01T00:00:00Z", "createdBefore")]
    [InlineData("status=done", "status")]
    public async Task A_bad_list_filter_is_a_400_naming_its_field(string query, string field)
    {
        var problem = await AssertProblemAsync(await fixture.Http.GetAsync($"/v1/jobs?{query}"), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Trigger_runs_a_paused_schedule_now_once_without_moving_its_cron_and_its_runs_list_the_job()
    {
        var (http, _) = await TenantAsync();
        var name = Names.Table("nightly");
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync($"/v1/schedules/{name}",
            Json($$"""{"cron": "0 3 * * *", "job": {{QuickJob}}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/v1/schedules/{name}/pause", null)).StatusCode);
        var before = await http.GetFromJsonAsync<JsonElement>($"/v1/schedules/{name}");

        var response = await http.PostAsync($"/v1/schedules/{name}/trigger", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var job = await http.WaitForEndAsync(id);
        Assert.Equal(("succeeded", name), (job.Status(), job.GetProperty("schedule").GetString()));
        var after = await http.GetFromJsonAsync<JsonElement>($"/v1/schedules/{name}");
        Assert.Equal((id, true), (after.GetProperty("lastJobId").GetString(), after.GetProperty("paused").GetBoolean()));
        Assert.Equal(before.GetProperty("cron").GetString(), after.GetProperty("cron").GetString());
        var second = (await (await http.PostAsync($"/v1/schedules/{name}/trigger", null)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        Assert.NotEqual(id, second); // each trigger is a run of its own
        await http.SubmitAsync(QuickJob); // not the schedule's

        var runs = (await http.GetFromJsonAsync<JsonElement>($"/v1/schedules/{name}/runs")).GetProperty("items").EnumerateArray().ToList();

        Assert.Equal([second, id], runs.Select(r => r.GetProperty("id").GetString()!));
        Assert.All(runs, r => Assert.Equal(name, r.GetProperty("schedule").GetString()));
        Assert.Equal([second, id], await IdsAsync(http, $"schedule={name}"));
        await AssertProblemAsync(await http.PostAsync("/v1/schedules/no-such-schedule/trigger", null), HttpStatusCode.NotFound);
        await AssertProblemAsync(await http.GetAsync("/v1/schedules/no-such-schedule/runs"), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/v1/schedules/{name}")).StatusCode);
    }

    private async Task<(HttpClient Http, string Tenant)> TenantAsync()
    {
        var tenant = $"t{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.Created, (await fixture.Http.PostAsync("/v1/admin/tenants", Json($"{{\"name\": \"{tenant}\"}}"))).StatusCode);
        var issued = await fixture.Http.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json("""{"name": "test", "scopes": ["jobs"]}"""));
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        return (fixture.Cluster.Api.CreateClientWithKey((await issued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!), tenant);
    }

    private static async Task<List<JsonElement>> ListAsync(HttpClient http, string query) =>
        (await http.GetFromJsonAsync<JsonElement>($"/v1/jobs?{query}")).GetProperty("items").EnumerateArray().ToList();

    private static async Task<string[]> IdsAsync(HttpClient http, string query) =>
        [.. (await ListAsync(http, query)).Select(j => j.GetProperty("id").GetString()!)];
}
