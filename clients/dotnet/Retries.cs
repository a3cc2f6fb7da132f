using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace OrleansCompute.Client;

/// <summary>
/// When a request is sent again: on 429 and 503 (after the server's Retry-After, else with backoff),
/// and on a connection failure of a request that never reached the server's logic. A request is
/// retried only when repeating it is harmless: GET, PUT and DELETE are idempotent by HTTP's rules,
/// and a POST only with an Idempotency-Key. A 503 that says the outcome is unknown is never
/// retried, as the write may have been applied: the caller reads first.
/// </summary>
public static class Retries
{
    /// <summary>The retry options the SDK uses; callers may adjust them before building a client.</summary>
    public static HttpRetryStrategyOptions Options(int maxAttempts = 4) => new()
    {
        MaxRetryAttempts = maxAttempts,
        BackoffType = DelayBackoffType.Exponential,
        UseJitter = true,
        Delay = TimeSpan.FromMilliseconds(200),
        MaxDelay = TimeSpan.FromSeconds(30),
        ShouldRetryAfterHeader = true,
        ShouldHandle = args => ShouldRetryAsync(args.Outcome),
    };

    /// <summary>A handler that retries as <see cref="Options"/> says, around <paramref name="inner"/>.</summary>
    public static DelegatingHandler Handler(HttpMessageHandler inner, HttpRetryStrategyOptions? options = null)
    {
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>().AddRetry(options ?? Options()).Build();
        return new ResilienceHandler(pipeline) { InnerHandler = inner };
    }

    internal static async ValueTask<bool> ShouldRetryAsync(Outcome<HttpResponseMessage> outcome)
    {
        if (outcome.Exception is not null)
        {
            // Only a failure to connect proves the server never saw the request.
            return outcome.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };
        }

        if (outcome.Result is not { } response || !IsRepeatable(response.RequestMessage))
        {
            return false;
        }

        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            return true;
        }

        if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
        {
            return false;
        }

        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        return !body.Contains("outcome-unknown", StringComparison.Ordinal);
    }

    private static bool IsRepeatable(HttpRequestMessage? request) => request is not null
        && (request.Method == HttpMethod.Get || request.Method == HttpMethod.Head || request.Method == HttpMethod.Put
            || request.Method == HttpMethod.Delete || request.Headers.Contains("Idempotency-Key"));
}
