using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// A store fault reaches the client as a retryable 503, not a 500: Npgsql's exceptions have no
/// codec on the Api side, so they must stay in the silo's log. CI found it when the test server
/// ran out of connections ("too many clients").
/// </summary>
public sealed class StoreFailureTests : IAsyncLifetime
{
    private readonly StoreFaults _failing = new();
    private PostgresCluster? _cluster;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        // The product's store, wrapped by a test-only decorator; no product code path knows of it.
        _cluster = await PostgresCluster.StartAsync("storefault", silos: 1, services: services =>
            services.AddSingleton<IKeyValueStore>(sp => new FaultyKeyValueStore(ActivatorUtilities.CreateInstance<PostgresKeyValueStore>(sp), _failing)));
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
    public async Task A_shard_whose_store_refuses_connections_answers_503_with_retry_after_and_recovers()
    {
        Assert.Equal(HttpStatusCode.Created, (await _http.PutAsync("/v1/tables/faulty", Json("""{"shards": 1}"""))).StatusCode);
        _failing.FailLoads = true;

        var read = await _http.GetAsync("/v1/tables/faulty/keys/k");
        var write = await _http.PutAsync("/v1/tables/faulty/keys/k", Json("1"));

        foreach (var response in new[] { read, write })
        {
            var problem = await AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Contains("nothing was changed", problem.GetProperty("detail").GetString());
        }

        _failing.FailLoads = false;
        Assert.Equal(HttpStatusCode.Created, (await _http.PutAsync("/v1/tables/faulty/keys/k", Json("1"))).StatusCode);
        Assert.Equal("1", await _http.GetStringAsync("/v1/tables/faulty/keys/k"));
    }

    [Fact]
    public async Task A_job_submission_whose_store_fails_answers_503_outcome_unknown_and_a_retry_with_its_key_makes_one_job()
    {
        const string spec = """{"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}""";
        Assert.Equal(HttpStatusCode.Accepted, (await SubmitAsync(spec, "warm-up")).StatusCode);
        // A real PostgreSQL error under the job grains: their table is gone for a moment.
        await TestDatabase.ExecuteAsync(_cluster!.ConnectionString, "ALTER TABLE oc_job RENAME TO oc_job_away");
        HttpResponseMessage submit, list;
        try
        {
            submit = await SubmitAsync(spec, "during-the-fault");
            list = await _http.GetAsync("/v1/jobs");
        }
        finally
        {
            await TestDatabase.ExecuteAsync(_cluster.ConnectionString, "ALTER TABLE oc_job_away RENAME TO oc_job");
        }

        var unknown = await AssertProblemAsync(submit, HttpStatusCode.ServiceUnavailable);
        Assert.EndsWith("outcome-unknown", unknown.GetProperty("type").GetString());
        Assert.Contains("Idempotency-Key", unknown.GetProperty("detail").GetString());
        // The database's own words (here: which relation is missing) stay in the silo's log.
        Assert.DoesNotContain("oc_job", unknown.GetProperty("detail").GetString());
        var unavailable = await AssertProblemAsync(list, HttpStatusCode.ServiceUnavailable);
        Assert.EndsWith("cluster-unavailable", unavailable.GetProperty("type").GetString());
        Assert.All(new[] { submit, list }, r => Assert.NotNull(r.Headers.RetryAfter));

        var retried = await SubmitAsync(spec, "during-the-fault");
        var again = await SubmitAsync(spec, "during-the-fault");
        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.Accepted), (retried.StatusCode, again.StatusCode));
        Assert.Equal((await retried.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString(),
                     (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
    }

    private Task<HttpResponseMessage> SubmitAsync(string spec, string idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = Json(spec) };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return _http.SendAsync(request);
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");
}
