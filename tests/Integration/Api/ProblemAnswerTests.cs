using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Api;

/// <summary>SPEC §4 and §5: every error is an RFC 9457 problem that says what is wrong, with no stack trace.</summary>
[Collection(SharedClusterCollection.Name)]
public class ProblemAnswerTests(SharedClusterFixture fixture)
{
    [Theory]
    [InlineData("/nowhere")]
    [InlineData("/v1/nowhere")]
    [InlineData("/v1/tables/a/b/c/d")]
    public async Task Unknown_paths_are_404_problems(string path)
    {
        var response = await fixture.Http.GetAsync(path);

        await AssertProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Malformed_json_is_a_400_that_says_where()
    {
        var response = await fixture.Http.PutAsync($"/v1/tables/{Names.Table()}", Json("{\"shards\": 4,"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("not valid JSON", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Wrong_types_are_a_400_that_names_the_field()
    {
        var response = await fixture.Http.PutAsync($"/v1/tables/{Names.Table()}", Json("{\"shards\": \"four\"}"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("shards", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Oversized_bodies_are_413()
    {
        var huge = "{\"shards\": 4, \"pad\": \"" + new string('x', 3 * 1024 * 1024) + "\"}";

        var response = await fixture.Http.PutAsync($"/v1/tables/{Names.Table()}", Json(huge));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Wrong_method_is_a_405_problem()
    {
        var response = await fixture.Http.PostAsync("/v1/cluster", Json("{}"));

        await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed);
    }

    internal static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        // SPEC §4: every problem says what kind it is and, in words, what happened.
        Assert.StartsWith("urn:orleans-compute:problem:", problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(problem.TryGetProperty("detail", out var detail) ? detail.GetString() : null), $"no detail in {problem.GetRawText()}");
        Assert.DoesNotContain("   at ", problem.GetRawText());
        return problem;
    }
}
