using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCompute.Api.Errors;
using OrleansCompute.Data;
using OrleansCompute.Deadlines;
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
        { "GET", new OperationCanceledException(), 503, ProblemTypes.ClusterUnavailable },
        { "PUT", new TaskCanceledException(), 503, ProblemTypes.OutcomeUnknown },
        { "PUT", new DeadlineExceededException("late"), 503, ProblemTypes.DeadlineExceeded },
        { "GET", new DeadlineExceededException("late"), 503, ProblemTypes.DeadlineExceeded },
        { "GET", new InvalidOperationException("bug"), 500, ProblemTypes.Internal },
        // A database failure while a grain activated reaches the Api unwrapped by the silo's filter.
        { "GET", new Orleans.Runtime.OrleansException("activation failed", new Npgsql.NpgsqlException("connection refused")), 503, ProblemTypes.ClusterUnavailable },
        { "POST", new Npgsql.NpgsqlException("connection refused"), 503, ProblemTypes.OutcomeUnknown },
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

    [Theory]
    [InlineData(TxnOutcome.Conflict, 409, ProblemTypes.TransactionConflict)]
    [InlineData(TxnOutcome.Unavailable, 503, ProblemTypes.ClusterUnavailable)]
    [InlineData(TxnOutcome.OutcomeUnknown, 503, ProblemTypes.OutcomeUnknown)]
    public async Task An_uncommitted_transaction_is_answered_as_a_value_with_retry_after(TxnOutcome outcome, int status, string type)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services };
        http.Response.Body = new MemoryStream();

        var answer = Problems.Uncommitted(http, outcome, "why");
        Assert.NotNull(answer);
        await answer.ExecuteAsync(http);

        http.Response.Body.Position = 0;
        var problem = await JsonSerializer.DeserializeAsync<JsonElement>(http.Response.Body);
        Assert.Equal(status, http.Response.StatusCode);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.StartsWith("why", problem.GetProperty("detail").GetString());
        Assert.Single(http.Response.Headers.RetryAfter);
    }

    [Fact]
    public void A_committed_transaction_has_no_problem() =>
        Assert.Null(Problems.Uncommitted(new DefaultHttpContext(), TxnOutcome.Committed, null));
}
