using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.Jobs;

/// <summary>
/// Jobs survive the death of a silo and a restart of the whole cluster. The tests watch the job in
/// PostgreSQL, not through the Api, so no client call is what wakes the job: its reminder does.
/// </summary>
public class JobRecoveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_job_finishes_with_the_right_answer_when_a_silo_running_its_tasks_is_killed()
    {
        var database = await TestDatabase.CreateAsync("jobkill");
        var common = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["Orleans__ClusterId"] = $"jobkill-{Guid.NewGuid():N}",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Jobs__RecoveryPeriod"] = "00:00:05",
            // Declare the dead silo dead sooner than the 30 s of Orleans' defaults.
            ["Orleans__Membership__ProbeTimeout"] = "00:00:02",
            ["Orleans__Membership__NumMissedProbesLimit"] = "2",
        };
        var silos = Enumerable.Range(0, 3).Select(_ => SiloNode.Start(common)).ToList();
        var apiPort = Ports.Free();
        await using var api = NodeProcess.Start("api", Repository.Binary("Api", "OrleansCompute.Api.dll"),
            new Dictionary<string, string>(common) { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{apiPort}", ["Auth__AdminKey"] = TestKeys.Admin });
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(40) };
            http.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Admin);
            await Task.WhenAll(silos.Select(s => s.WaitReadyAsync()));
            await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(90), "Api ready");

            // 48 tasks of 2 s, 12 at a time: about 8 s of work spread over three silos.
            var id = await http.SubmitAsync("""
                {"kind": "sleep", "input": {"tasks": 48, "milliseconds": 2000}, "parallelism": 12, "retry": {"maxAttempts": 5, "backoffSeconds": 0.1}}
                """);
            string? victimAddress = null;
            await Eventually.WaitAsync(async () =>
            {
                var running = (await http.TasksAsync(id)).Where(t => t.GetProperty("status").GetString() == "running" && t.GetProperty("silo").GetString() is not null);
                victimAddress = running.Select(t => t.GetProperty("silo").GetString()!).FirstOrDefault(s => silos.Any(n => s.StartsWith($"127.0.0.1:{n.SiloPort}@")));
                return victimAddress is not null;
            }, TimeSpan.FromSeconds(60), "tasks running");
            var victim = silos.Single(n => victimAddress!.StartsWith($"127.0.0.1:{n.SiloPort}@"));

            var killedAt = DateTimeOffset.UtcNow;
            victim.Process.Kill();
            output.WriteLine($"killed {victim.Name} while it ran tasks of job {id}");

            var (status, _) = await WaitForEndInDatabaseAsync(database, id, TimeSpan.FromSeconds(150));
            Assert.Equal("succeeded", status);
            var job = await http.JobAsync(id);
            Assert.Equal(48, job.GetProperty("result").GetProperty("tasks").GetInt32());
            Assert.Equal(48, job.Progress("succeeded"));
            var tasks = await http.TasksAsync(id);
            Assert.All(tasks, t => Assert.Equal("succeeded", t.GetProperty("status").GetString()));
            // Every result was recorded once: one row per task, whichever runs (old activation's, new one's) reported.
            Assert.Equal(48L, await TestDatabase.ScalarAsync<long>(database,
                "SELECT COUNT(*) FROM oc_job_task WHERE job_id = @id AND status = 'succeeded'", ("id", id)));
            // Operators see the runs on each silo's /metrics.
            using var scrape = new HttpClient();
            var metrics = await scrape.GetStringAsync($"http://127.0.0.1:{silos.First(s => s != victim).HealthPort}/metrics");
            Assert.Matches("oc_task_runs_total\\{[^}]*outcome=\"succeeded\"", metrics);
            Assert.Contains("oc_tasks_running", metrics);
            // The dead silo's share ran elsewhere: no result comes from a run it started after the kill.
            Assert.DoesNotContain(tasks, t => t.GetProperty("silo").GetString() == victimAddress && t.GetProperty("startedAt").GetDateTimeOffset() > killedAt);
        }
        catch
        {
            SiloNode.WriteTails(output, silos, api);
            throw;
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.Process.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_job_resumes_and_finishes_after_the_whole_cluster_restarts()
    {
        var settings = new Dictionary<string, string?> { ["Jobs:RecoveryPeriod"] = "00:00:05" };
        await using var cluster = await PostgresCluster.StartAsync("jobrestart", silos: 2, siloSettings: settings);
        var http = await cluster.Api.CreateReadyClientAsync();
        // 30 tasks of 300 ms one at a time: about 9 s of work, stopped after the first few.
        var id = await http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 30, "milliseconds": 300}, "parallelism": 1}""");
        await Eventually.WaitAsync(async () => await DoneTasksAsync(cluster.ConnectionString, id) >= 3, TimeSpan.FromSeconds(60), "some tasks done");

        await cluster.StopSilosAsync();
        var doneBefore = await DoneTasksAsync(cluster.ConnectionString, id);
        Assert.True(doneBefore < 30, "the job should be unfinished when the cluster stops");
        await cluster.StartSilosAsync(2, settings);

        var (status, result) = await WaitForEndInDatabaseAsync(cluster.ConnectionString, id, TimeSpan.FromSeconds(90));
        Assert.Equal("succeeded", status);
        Assert.Equal(30, JsonDocument.Parse(result!).RootElement.GetProperty("tasks").GetInt32());
        Assert.Equal(30L, await DoneTasksAsync(cluster.ConnectionString, id));
    }

    private static Task<long> DoneTasksAsync(string database, string id) => TestDatabase.ScalarAsync<long>(database,
        "SELECT COUNT(*) FROM oc_job_task WHERE job_id = @id AND status = 'succeeded'", ("id", id));

    private static async Task<(string Status, string? Result)> WaitForEndInDatabaseAsync(string database, string id, TimeSpan timeout)
    {
        string? status = null;
        await Eventually.WaitAsync(async () =>
        {
            status = await TestDatabase.ScalarAsync<string>(database, "SELECT status FROM oc_job WHERE job_id = @id", ("id", id));
            return status is "succeeded" or "failed" or "cancelled";
        }, timeout, $"job {id} to end (in the database)");
        return (status!, await TestDatabase.ScalarAsync<string>(database, "SELECT result FROM oc_job WHERE job_id = @id", ("id", id)));
    }
}
