using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Jobs;

/// <summary>Cron schedules on reminders, and the per-job and per-tenant limits (SPEC §4.3, §7), on a cluster of their own.</summary>
public class ScheduleAndLimitTests : IAsyncLifetime
{
    private PostgresCluster _cluster = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _cluster = await PostgresCluster.StartAsync("schedules", silos: 2, siloSettings: new Dictionary<string, string?>
        {
            ["Jobs:MaxTasksPerJob"] = "10",
            ["Jobs:MaxActiveJobsPerTenant"] = "2",
            ["Jobs:RecoveryPeriod"] = "00:00:05",
        });
        _http = await _cluster.Api.CreateReadyClientAsync();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_cron_schedule_fires_once_per_occurrence_and_stops_when_paused()
    {
        var put = await _http.PutAsync("/v1/schedules/every-second", Json("""
            {"cron": "* * * * * *", "timeZone": "Europe/Paris", "job": {"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}}
            """));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.NotEqual(JsonValueKind.Null, (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("nextRun").ValueKind);

        // Several occurrences fire, each making one job (two silos, one schedule).
        await Eventually.WaitAsync(async () => await ScheduledJobsAsync("every-second") >= 3, TimeSpan.FromSeconds(30), "three occurrences");
        var schedule = await _http.GetFromJsonAsync<JsonElement>("/v1/schedules/every-second");
        var lastJob = schedule.GetProperty("lastJobId").GetString()!;
        Assert.Equal("succeeded", (await _http.WaitForEndAsync(lastJob)).Status());
        Assert.Equal(0L, await TestDatabase.ScalarAsync<long>(_cluster.ConnectionString, """
            SELECT COUNT(*) FROM (SELECT idempotency_key FROM oc_job WHERE idempotency_key LIKE 'schedule/every-second/%'
                                  GROUP BY idempotency_key HAVING COUNT(*) > 1) AS duplicates
            """));

        var paused = await _http.PostAsync("/v1/schedules/every-second/pause", null);
        Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        var pausedView = await paused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(pausedView.GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Null, pausedView.GetProperty("nextRun").ValueKind);
        var listed = await _http.GetFromJsonAsync<JsonElement>("/v1/schedules");
        Assert.Contains("every-second", listed.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("name").GetString()));

        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync("/v1/schedules/every-second")).StatusCode);
        await AssertProblemAsync(await _http.GetAsync("/v1/schedules/every-second"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"cron": "every minute", "job": {"kind": "sleep"}}""", "cron")]
    [InlineData("""{"cron": "61 * * * *", "job": {"kind": "sleep"}}""", "cron")]
    [InlineData("""{"cron": "0 * * * *", "timeZone": "Mars/Olympus", "job": {"kind": "sleep"}}""", "timeZone")]
    [InlineData("""{"cron": "0 * * * *", "job": {"kind": "nope"}}""", "job.kind")]
    [InlineData("""{"cron": "0 * * * *", "job": {"kind": "primes", "input": {"from": 1}}}""", "job.input.to")]
    [InlineData("""{"cron": "0 * * * *"}""", "job")]
    public async Task Bad_schedules_are_400_naming_the_field(string body, string field)
    {
        var problem = await AssertProblemAsync(await _http.PutAsync("/v1/schedules/bad", Json(body)), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        await AssertProblemAsync(await _http.GetAsync("/v1/schedules/bad"), HttpStatusCode.NotFound);
    }

    // API4 unrestricted resource consumption: tasks per job, active jobs per tenant.
    [Fact]
    public async Task A_job_with_more_tasks_than_the_limit_is_400()
    {
        var problem = await AssertProblemAsync(await _http.PostJobAsync("""{"kind": "sleep", "input": {"tasks": 11}}"""), HttpStatusCode.BadRequest);

        Assert.Contains("between 1 and 10", problem.GetProperty("errors").GetProperty("input")[0].GetString());
    }

    [Fact]
    public async Task A_tenant_past_its_active_jobs_quota_gets_429_and_another_tenant_does_not()
    {
        var busy = await _http.TenantClientAsync(_cluster.Api);
        var other = await _http.TenantClientAsync(_cluster.Api);
        const string longJob = """{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 600000}}""";
        var first = await busy.SubmitAsync(longJob);
        await busy.SubmitAsync(longJob);

        var refused = await busy.PostJobAsync(longJob);
        var accepted = await other.PostJobAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}""");

        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        // An ended job frees its place.
        Assert.Equal(HttpStatusCode.Accepted, (await busy.PostAsync($"/v1/jobs/{first}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await busy.PostJobAsync("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}""")).StatusCode);
    }

    private Task<long> ScheduledJobsAsync(string schedule) => TestDatabase.ScalarAsync<long>(_cluster.ConnectionString,
        "SELECT COUNT(*) FROM oc_job WHERE idempotency_key LIKE @pattern", ("pattern", $"schedule/{schedule}/%"));
}
