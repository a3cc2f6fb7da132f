using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// Bounded effects (issue 15, docs/reliability.md): work whose request deadline has passed is
/// dropped without effect before it stages or commits, and answered 503 deadline-exceeded, which
/// is retryable and never outcome-unknown. The fault harness saw a write take effect 25 s after it
/// was sent, once a partition healed; with a deadline, a write takes effect before it or never.
/// </summary>
public sealed class RequestDeadlineTests : IAsyncLifetime
{
    // Short, so a test need not wait long for it to pass; the Api waits far longer for the silo's
    // definite answer, so what the test sees is the silo's verdict, not the Api giving up.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    private readonly StoreFaults _store = new();
    private PostgresCluster? _cluster;
    private ApiFactory? _api;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _cluster = await PostgresCluster.StartAsync("deadline", silos: 1, services: services =>
            services.AddSingleton<IKeyValueStore>(sp => new FaultyKeyValueStore(ActivatorUtilities.CreateInstance<PostgresKeyValueStore>(sp), _store)));
        _api = new ApiFactory(new Dictionary<string, string?>(_cluster.Settings)
        {
            ["Requests:Deadline"] = Deadline.ToString(),
            ["Requests:AnswerBound"] = "00:02:00",
        });
        await _api.CreateReadyClientAsync();
        _http = _api.CreateClient();
        _http.Timeout = TimeSpan.FromMinutes(3);
    }

    public async Task DisposeAsync()
    {
        _store.ReleaseCommits();
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_write_whose_deadline_passes_while_its_commit_waits_behind_a_stalled_one_is_never_applied_and_answered_deadline_exceeded()
    {
        Assert.Equal(HttpStatusCode.Created, (await _http.PutAsync("/v1/tables/late", Json("""{"shards": 1}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _http.PutAsync("/v1/tables/late/keys/warm", Json("0"))).StatusCode);

        // The store stalls with one commit in flight; the next write stages and queues behind it.
        _store.HoldCommits();
        var stalled = _http.PutAsync("/v1/tables/late/keys/first", Json("1"));
        await _store.CommitHeld.WaitAsync(TimeSpan.FromSeconds(60));
        var sent = Stopwatch.StartNew();
        var late = _http.PutAsync("/v1/tables/late/keys/late", Json("2"));

        // The late write's deadline passes (with room for its trip to the silo) while the store is stalled.
        await Eventually.WaitAsync(() => Task.FromResult(sent.Elapsed > Deadline + TimeSpan.FromSeconds(1.5)), TimeSpan.FromSeconds(30), "the late write's deadline to pass");
        _store.ReleaseCommits();

        // The stalled commit itself reaches the store past its deadline too: the store refuses it
        // on arrival (docs/reliability.md, "At the store"), so both are answered as never applied.
        foreach (var answer in new[] { await stalled, await late })
        {
            var problem = await AssertProblemAsync(answer, HttpStatusCode.ServiceUnavailable);
            Assert.EndsWith("deadline-exceeded", problem.GetProperty("type").GetString());
            Assert.NotNull(answer.Headers.RetryAfter);
        }

        // Never applied: not in memory once the shard reloads, not in the store, and the queued one never sent to it.
        await Eventually.WaitAsync(async () => (await _http.GetAsync("/v1/tables/late/keys/late")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), "the shard to serve again");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/v1/tables/late/keys/first")).StatusCode);
        Assert.DoesNotContain("late", _store.CommittedKeys);

        // A retry is safe and lands.
        Assert.Equal(HttpStatusCode.Created, (await _http.PutAsync("/v1/tables/late/keys/late", Json("3"))).StatusCode);
    }

    [Fact]
    public async Task Work_that_reaches_the_silo_past_its_deadline_is_dropped_at_the_door_with_nothing_created()
    {
        Assert.Equal(HttpStatusCode.Created, (await _http.PutAsync("/v1/tables/door", Json("""{"shards": 2}"""))).StatusCode);
        // An Api whose deadline is spent before any call leaves it: every call reaches its grain late.
        await using var spent = new ApiFactory(new Dictionary<string, string?>(_cluster!.Settings)
        {
            ["Requests:Deadline"] = "00:00:00.001",
            ["Requests:AnswerBound"] = "00:02:00",
        });
        await spent.CreateReadyClientAsync();
        var late = spent.CreateClient();
        late.Timeout = TimeSpan.FromMinutes(3);

        var put = await late.PutAsync("/v1/tables/door/keys/k", Json("1"));
        var submit = await late.PostAsync("/v1/jobs", Json("""{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}"""));

        foreach (var answer in new[] { put, submit })
        {
            var problem = await AssertProblemAsync(answer, HttpStatusCode.ServiceUnavailable);
            Assert.EndsWith("deadline-exceeded", problem.GetProperty("type").GetString());
            Assert.NotNull(answer.Headers.RetryAfter);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/v1/tables/door/keys/k")).StatusCode);
        var jobs = await _http.GetFromJsonAsync<JsonElement>("/v1/jobs");
        Assert.Empty(jobs.GetProperty("items").EnumerateArray());
    }
}
