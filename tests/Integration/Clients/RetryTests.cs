using System.Net;
using OrleansCompute.Client;

namespace OrleansCompute.Tests.Clients;

/// <summary>The SDK's retry rules (pure logic: a scripted handler stands in for the server).</summary>
public class RetryTests
{
    [Fact]
    public async Task A_429_is_retried_after_the_servers_retry_after()
    {
        var server = new ScriptedHandler(Answer(HttpStatusCode.TooManyRequests, retryAfter: 1), Answer(HttpStatusCode.OK, "{\"silos\":[],\"api\":{\"instance\":\"a\",\"connected\":true,\"gateways\":1}}"));
        var client = OrleansComputeClient.Create(new Uri("http://api/"), "k", server);

        var started = DateTime.UtcNow;
        await client.GetClusterAsync();

        Assert.Equal(2, server.Calls);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(0.9), "the retry came before Retry-After");
    }

    [Fact]
    public async Task A_post_without_an_idempotency_key_is_never_repeated()
    {
        var server = new ScriptedHandler(Answer(HttpStatusCode.ServiceUnavailable, retryAfter: 0), Answer(HttpStatusCode.Accepted, "{\"id\":\"j\",\"status\":\"queued\"}"));
        var client = OrleansComputeClient.Create(new Uri("http://api/"), "k", server);

        var error = await Assert.ThrowsAsync<OrleansComputeException>(() => client.SubmitJobAsync(new JobSpec("primes")));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.Status);
        Assert.Equal(1, server.Calls);
    }

    [Fact]
    public async Task A_post_with_an_idempotency_key_is_repeated_on_503()
    {
        var server = new ScriptedHandler(Answer(HttpStatusCode.ServiceUnavailable, retryAfter: 0), Answer(HttpStatusCode.Accepted, "{\"id\":\"j\",\"status\":\"queued\"}"));
        var client = OrleansComputeClient.Create(new Uri("http://api/"), "k", server);

        var accepted = await client.SubmitJobAsync(new JobSpec("primes"), idempotencyKey: "once");

        Assert.Equal("j", accepted.Id);
        Assert.Equal(2, server.Calls);
    }

    [Fact]
    public async Task An_outcome_unknown_503_is_not_repeated_even_for_a_put()
    {
        var unknown = Answer(HttpStatusCode.ServiceUnavailable, "{\"type\":\"urn:orleans-compute:problem:outcome-unknown\",\"title\":\"Outcome unknown\",\"status\":503}", retryAfter: 0);
        var server = new ScriptedHandler(unknown, Answer(HttpStatusCode.OK, "{\"key\":\"k\",\"version\":2}"));
        var client = OrleansComputeClient.Create(new Uri("http://api/"), "k", server);

        var error = await Assert.ThrowsAsync<OrleansComputeException>(() => client.PutAsync("t", "k", 1, new PutOptions(IfVersion: 1)));

        Assert.Equal("outcome-unknown", error.Kind);
        Assert.Equal(1, server.Calls);
    }

    private static Func<HttpResponseMessage> Answer(HttpStatusCode status, string body = "{}", int? retryAfter = null) => () =>
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        if (retryAfter is { } seconds)
        {
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
        }

        return response;
    };

    private sealed class ScriptedHandler(params Func<HttpResponseMessage>[] answers) : HttpMessageHandler
    {
        public int Calls { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var answer = answers[Math.Min(Calls, answers.Length - 1)]();
            answer.RequestMessage = request;
            Calls++;
            return Task.FromResult(answer);
        }
    }
}
