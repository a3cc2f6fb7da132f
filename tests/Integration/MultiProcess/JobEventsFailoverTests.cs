using System.Diagnostics;
using System.Net;
using System.Net.ServerSentEvents;
using System.Text.Json;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>
/// <c>GET /v1/jobs/{id}/events</c> through the SIGKILL of the silo that hosts the job: the one
/// stream goes on and ends with <c>end</c>, rather than breaking under its follower.
/// </summary>
public class JobEventsFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_job_event_stream_goes_on_through_the_death_of_the_silo_hosting_the_job_and_ends_with_the_end()
    {
        // Three silos, so the two left are the two votes that declare the killed one dead.
        await using var run = await ProcessCluster.StartAsync("jobevents", silos: 3, new Dictionary<string, string> { ["Jobs__RecoveryPeriod"] = "00:00:05" });
        try
        {
            var http = run.Http;
            // 60 tasks of 500 ms, 4 at a time: about 8 s of work, so the kill lands mid-job.
            var id = await http.SubmitAsync("""
                {"kind": "sleep", "input": {"tasks": 60, "milliseconds": 500}, "parallelism": 4, "retry": {"maxAttempts": 5, "backoffSeconds": 0.1}}
                """);
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/jobs/{id}/events");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            var clock = Stopwatch.StartNew();
            var events = new List<(string Type, JsonElement Job, TimeSpan At)>();
            var reading = Task.Run(async () =>
            {
                await using var body = await response.Content.ReadAsStreamAsync();
                var parser = SseParser.Create(body, (_, data) => JsonDocument.Parse(data.ToArray()).RootElement.Clone());
                await foreach (var item in parser.EnumerateAsync())
                {
                    lock (events)
                    {
                        events.Add((item.EventType, item.Data, clock.Elapsed));
                    }
                }
            });

            bool Seen(Func<(string Type, JsonElement Job, TimeSpan At), bool> what)
            {
                lock (events)
                {
                    return events.Any(what);
                }
            }

            await Eventually.WaitAsync(() => Task.FromResult(Seen(e => e.Type == "progress" && e.Job.Progress("succeeded") > 0)), TimeSpan.FromSeconds(60), "progress with a task done");
            var victim = await run.HostOfAsync(run.Grains.GetGrain<IJobGrain>(TenantKey.For(TenantKey.DefaultTenant, id)));
            Assert.NotNull(victim);
            var killedAt = clock.Elapsed;
            victim.Process.Kill();
            output.WriteLine($"killed {victim.Name}, the job's host, at {killedAt.TotalSeconds:F1}s");

            // The stream ends by itself once the job ends; a broken stream throws here.
            await reading.WaitAsync(TimeSpan.FromSeconds(150));
            lock (events)
            {
                output.WriteLine($"{events.Count} events; after the kill: {string.Join(", ", events.Where(e => e.At > killedAt).Select(e => $"{e.Type} {e.Job.Progress("succeeded")} at {e.At.TotalSeconds:F1}s"))}");
                Assert.Contains(events, e => e.At > killedAt && e.Type == "progress");
                var (type, job, _) = events[^1];
                Assert.Equal("end", type);
                Assert.Equal("succeeded", job.Status());
                Assert.Equal(60, job.Progress("succeeded"));
                Assert.Single(events, e => e.Type == "end");
            }
        }
        catch
        {
            run.WriteTails(output);
            throw;
        }
    }
}
