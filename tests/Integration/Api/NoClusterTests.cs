using System.Diagnostics;
using System.Net;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Api;

/// <summary>The Api starts without any silo, says it is not ready, and answers 503 at once rather than hanging.</summary>
public class NoClusterTests
{
    [Fact]
    public async Task Postgres_mode_api_without_silos_answers_503_with_retry_after()
    {
        var database = await TestDatabase.CreateAsync("nosilo");
        await using var api = new ApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = database,
            ["Orleans:ClusterId"] = $"empty-{Guid.NewGuid():N}",
        });

        await AssertUnavailableAsync(api.CreateClient());
    }

    [Fact]
    public async Task Embedded_mode_api_with_a_dead_gateway_answers_503_with_retry_after()
    {
        await using var api = new ApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "",
            ["Orleans:Gateways"] = $"127.0.0.1:{Ports.Free()}",
        });

        await AssertUnavailableAsync(api.CreateClient());
    }

    private static async Task AssertUnavailableAsync(HttpClient http)
    {
        http.Timeout = TimeSpan.FromSeconds(10);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/health/ready")).StatusCode);

        foreach (var request in new[] { "/v1/cluster", "/v1/tables", "/v1/tables/orders" })
        {
            var clock = Stopwatch.StartNew();
            var response = await http.GetAsync(request);

            await AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"{request} took {clock.Elapsed}");
        }

        var swagger = await http.GetAsync("/swagger/v1/swagger.json");
        Assert.Equal(HttpStatusCode.OK, swagger.StatusCode);
    }
}
