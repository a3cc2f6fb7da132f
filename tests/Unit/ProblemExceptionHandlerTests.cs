using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCompute.Api.Errors;
using OrleansCompute.Data;
using OrleansCompute.Transactions;

namespace OrleansCompute.Tests.Unit;

public class ProblemExceptionHandlerTests
{
    public static TheoryData<string, Exception, int, string> Cases => new()
    {
        { "PUT", new BadHttpRequestException("too big", StatusCodes.Status413PayloadTooLarge), 413, ProblemTypes.BodyTooLarge },
        { "PUT", new BadHttpRequestException("bad", new JsonException("'x' is invalid")), 400, ProblemTypes.BadRequest },
        { "PUT", new ShardUnavailableException("moved", outcomeUnknown: false), 503, ProblemTypes.ClusterUnavailable },
        { "PUT", new ShardUnavailableException("store failed", outcomeUnknown: true), 503, ProblemTypes.OutcomeUnknown },
        { "GET", new TimeoutException(), 503, ProblemTypes.ClusterUnavailable },
        { "PUT", new TimeoutException(), 503, ProblemTypes.OutcomeUnknown },
        { "GET", new ClusterUnavailableException("down"), 503, ProblemTypes.ClusterUnavailable },
        { "GET", new InvalidOperationException("bug"), 500, ProblemTypes.Internal },
        { "POST", new TransactionFailedException(TxnOutcome.Conflict, "conflicted"), 409, ProblemTypes.TransactionConflict },
        { "POST", new TransactionFailedException(TxnOutcome.Unavailable, "unreachable"), 503, ProblemTypes.ClusterUnavailable },
        { "POST", new TransactionFailedException(TxnOutcome.OutcomeUnknown, "in doubt"), 503, ProblemTypes.OutcomeUnknown },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Maps_each_failure_to_its_problem_without_leaking_the_stack(string method, Exception exception, int status, string type)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services };
        http.Request.Method = method;
        http.Response.Body = new MemoryStream();
        var handler = new ProblemExceptionHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<ProblemExceptionHandler>.Instance);

        Assert.True(await handler.TryHandleAsync(http, exception, CancellationToken.None));

        http.Response.Body.Position = 0;
        var problem = await JsonSerializer.DeserializeAsync<JsonElement>(http.Response.Body);
        Assert.Equal(status, http.Response.StatusCode);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.Equal(status is 503 or 409, http.Response.Headers.RetryAfter.Count == 1);
        Assert.DoesNotContain("   at ", problem.GetRawText());
    }
}
