using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Api;

/// <summary>SPEC §4.1, tables: one test per rule.</summary>
[Collection(SharedClusterCollection.Name)]
public class TableApiTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Create_answers_201_with_location_and_the_table()
    {
        var name = Names.Table();

        var response = await Http.PutAsync($"/v1/tables/{name}", Json("{\"transactional\": false, \"shards\": 8}"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal($"/v1/tables/{name}", response.Headers.Location?.OriginalString);
        var table = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((name, false, 8), (table.GetProperty("name").GetString(), table.GetProperty("transactional").GetBoolean(), table.GetProperty("shards").GetInt32()));
    }

    [Fact]
    public async Task Create_without_a_body_uses_sixteen_shards()
    {
        var name = Names.Table();

        var response = await Http.PutAsync($"/v1/tables/{name}", null);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(16, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("shards").GetInt32());
    }

    [Fact]
    public async Task Identical_create_is_200_and_different_create_is_409()
    {
        var name = Names.Table();
        await Http.PutAsync($"/v1/tables/{name}", Json("{\"shards\": 4}"));

        var again = await Http.PutAsync($"/v1/tables/{name}", Json("{\"shards\": 4}"));
        var different = await Http.PutAsync($"/v1/tables/{name}", Json("{\"shards\": 4, \"transactional\": true}"));

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        await AssertProblemAsync(different, HttpStatusCode.Conflict);
        var described = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{name}");
        Assert.False(described.GetProperty("transactional").GetBoolean());
    }

    [Theory]
    [InlineData("Upper")]
    [InlineData("_leading")]
    [InlineData("has.dot")]
    [InlineData("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl")]
    public async Task Invalid_names_are_400_naming_the_field_and_create_nothing(string name)
    {
        var response = await Http.PutAsync($"/v1/tables/{name}", null);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("table", out _));
        var list = await Http.GetFromJsonAsync<JsonElement>("/v1/tables?limit=1000");
        Assert.DoesNotContain(list.GetProperty("items").EnumerateArray(), t => t.GetProperty("name").GetString() == name);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(257)]
    public async Task Shard_counts_out_of_range_are_400(int shards)
    {
        var name = Names.Table();

        var response = await Http.PutAsync($"/v1/tables/{name}", Json($"{{\"shards\": {shards}}}"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("shards", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{name}")).StatusCode);
    }

    [Fact]
    public async Task Unknown_fields_are_400_and_create_nothing()
    {
        var name = Names.Table();

        var response = await Http.PutAsync($"/v1/tables/{name}", Json("{\"shards\": 4, \"tenant\": \"other\"}"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("tenant", problem.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{name}")).StatusCode);
    }

    [Fact]
    public async Task Describe_and_drop_of_a_missing_table_are_404()
    {
        var name = Names.Table();

        await AssertProblemAsync(await Http.GetAsync($"/v1/tables/{name}"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.DeleteAsync($"/v1/tables/{name}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Drop_answers_204_and_the_table_is_gone()
    {
        var name = Names.Table();
        await Http.PutAsync($"/v1/tables/{name}", null);

        var dropped = await Http.DeleteAsync($"/v1/tables/{name}");

        Assert.Equal(HttpStatusCode.NoContent, dropped.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/v1/tables/{name}")).StatusCode);
        var recreated = await Http.PutAsync($"/v1/tables/{name}", Json("{\"shards\": 2}"));
        Assert.Equal(HttpStatusCode.Created, recreated.StatusCode);
    }

    [Fact]
    public async Task List_pages_in_name_order_with_an_opaque_cursor()
    {
        var prefix = $"p{Guid.NewGuid():N}"[..12];
        var names = Enumerable.Range(0, 5).Select(i => $"{prefix}-{i}").ToList();
        foreach (var name in names.AsEnumerable().Reverse())
        {
            Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{name}", null)).StatusCode);
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables?limit=2{(cursor is null ? "" : $"&after={cursor}")}");
            Assert.True(page.GetProperty("items").GetArrayLength() <= 2);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("name").GetString()!));
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);

        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Equal(names, seen.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=1001")]
    [InlineData("after=%21%21")]
    [InlineData("limit=ten")]
    public async Task Bad_list_parameters_are_400(string query)
    {
        var response = await Http.GetAsync($"/v1/tables?{query}");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }
}
