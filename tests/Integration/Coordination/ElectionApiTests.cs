using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Coordination;

/// <summary>SPEC §4.4, elections, through the REST API on two silos and PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class ElectionApiTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Campaign_leads_proclaim_changes_the_value_and_resign_is_idempotent()
    {
        var name = CoordClient.LockName("svc.primary");
        var (lease, _) = await Http.GrantAsync(60);

        var won = await Campaign(name, lease, "{\"addr\": \"10.0.0.1\"}", 0);
        Assert.Equal(HttpStatusCode.OK, won.StatusCode);
        var body = await won.Content.ReadFromJsonAsync<JsonElement>();
        var token = body.GetProperty("token").GetInt64();
        Assert.Equal("10.0.0.1", body.GetProperty("value").GetProperty("addr").GetString());
        var leader = (await Http.GetFromJsonAsync<JsonElement>($"/v1/elections/{name}")).GetProperty("leader");
        Assert.Equal((token, lease, "10.0.0.1"), (leader.GetProperty("token").GetInt64(), leader.GetProperty("lease").GetString(), leader.GetProperty("value").GetProperty("addr").GetString()));

        Assert.Equal([name], (await Http.GetFromJsonAsync<JsonElement>($"/v1/leases/{lease}")).GetProperty("elections").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync($"/v1/elections/{name}/proclaim", CoordClient.Json($"{{\"token\": {token}, \"value\": \"v2\"}}"))).StatusCode);
        Assert.Equal("v2", (await Http.GetFromJsonAsync<JsonElement>($"/v1/elections/{name}")).GetProperty("leader").GetProperty("value").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await Http.PostAsync($"/v1/elections/{name}/resign", CoordClient.Json($"{{\"token\": {token}}}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.PostAsync($"/v1/elections/{name}/resign", CoordClient.Json($"{{\"token\": {token}}}"))).StatusCode);
        Assert.Equal(JsonValueKind.Null, (await Http.GetFromJsonAsync<JsonElement>($"/v1/elections/{name}")).GetProperty("leader").ValueKind);

        var problem = await AssertProblemAsync(await Http.PostAsync($"/v1/elections/{name}/proclaim", CoordClient.Json($"{{\"token\": {token}, \"value\": \"late\"}}")), HttpStatusCode.Conflict);
        Assert.Equal("urn:orleans-compute:problem:not-leader", problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task When_the_leaders_lease_ends_a_follower_takes_over_observe_shows_each_change_once_in_order_and_the_old_token_cannot_proclaim()
    {
        var name = CoordClient.LockName("e");
        var (first, _) = await Http.GrantAsync(2);
        var (second, _) = await Http.GrantAsync(60);
        using var stream = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = new List<JsonElement>();
        var observe = ObserveAsync(name, events, count: 4, stream.Token);
        // The first event is the state now: no leader.
        await Eventually.WaitAsync(() => Task.FromResult(Count(events) >= 1), TimeSpan.FromSeconds(10), "the first event");

        var oldToken = (await (await Campaign(name, first, "\"a\"", 0)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetInt64();
        var follower = Campaign(name, second, "\"b\"", 30);
        // No keepalive for the first lease: it ends about 2 s from its grant, and the follower leads.
        var took = await follower;
        Assert.Equal(HttpStatusCode.OK, took.StatusCode);
        var newToken = (await took.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetInt64();
        Assert.True(newToken > oldToken);
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync($"/v1/elections/{name}/proclaim", CoordClient.Json($"{{\"token\": {newToken}, \"value\": \"b2\"}}"))).StatusCode);
        await AssertProblemAsync(await Http.PostAsync($"/v1/elections/{name}/proclaim", CoordClient.Json($"{{\"token\": {oldToken}, \"value\": \"stale\"}}")), HttpStatusCode.Conflict);

        await observe;
        // none, a, (none: the lease ended), b, b2; "none" between may show as one change or be followed at once by b.
        var seen = events.Select(e => e.GetProperty("leader").ValueKind == JsonValueKind.Null ? "-" : e.GetProperty("leader").GetProperty("value").GetString()).ToList();
        Assert.Equal("-", seen[0]);
        Assert.Equal("a", seen[1]);
        Assert.Contains("b", seen);
        Assert.Equal(seen.Where(v => v != "-"), new[] { "a", "b", "b2" }.Take(seen.Count(v => v != "-")));
        Assert.DoesNotContain("stale", seen);
    }

    [Theory]
    [InlineData("ok/campaign", "{\"value\": 1}", "lease")]
    [InlineData("ok/campaign", "{\"lease\": \"0123456789abcdef0123456789abcdef\"}", "value")]
    [InlineData("ok/campaign", "{\"lease\": \"0123456789abcdef0123456789abcdef\", \"value\": 1, \"waitSeconds\": 999}", "waitSeconds")]
    [InlineData("ok/proclaim", "{\"value\": 1}", "token")]
    [InlineData("ok/resign", "{\"token\": \"x\"}", "token")]
    [InlineData("Bad/campaign", "{}", "name")]
    [InlineData("ok/vote", "{}", "name")]
    public async Task Bad_election_calls_are_400_naming_the_field(string path, string body, string field)
    {
        var problem = await AssertProblemAsync(await Http.PostAsync($"/v1/elections/{path}", CoordClient.Json(body)), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task A_campaign_with_an_ended_lease_is_404_and_elects_nobody()
    {
        var name = CoordClient.LockName("e");

        await AssertProblemAsync(await Campaign(name, "0123456789abcdef0123456789abcdef", "1", 0), HttpStatusCode.NotFound);

        Assert.Equal(JsonValueKind.Null, (await Http.GetFromJsonAsync<JsonElement>($"/v1/elections/{name}")).GetProperty("leader").ValueKind);
    }

    private Task<HttpResponseMessage> Campaign(string name, string lease, string value, int wait) =>
        Http.PostAsync($"/v1/elections/{name}/campaign", CoordClient.Json($"{{\"lease\": \"{lease}\", \"value\": {value}, \"waitSeconds\": {wait}}}"));

    private static int Count(List<JsonElement> events)
    {
        lock (events)
        {
            return events.Count;
        }
    }

    /// <summary>Reads the observe stream until <paramref name="count"/> events came or it is cancelled.</summary>
    private async Task ObserveAsync(string name, List<JsonElement> events, int count, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/elections/{name}/observe");
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        var ids = new List<long>();
        try
        {
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    ids.Add(long.Parse(line[4..]));
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    lock (events)
                    {
                        events.Add(JsonDocument.Parse(line[6..]).RootElement);
                    }
                }

                if (Count(events) >= count + 1)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The deadline: the events so far are checked.
        }

        // Each change once, in order.
        Assert.Equal(ids.Order(), ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }
}
