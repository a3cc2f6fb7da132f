using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Api;

/// <summary>
/// Issue 13: the Api as generated clients, Swagger UI and SDKs see it. Each test is one defect a new
/// user hit, asserted against the live document or the live Api (two silos on PostgreSQL).
/// </summary>
[Collection(SharedClusterCollection.Name)]
public partial class ClientContractTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    private async Task<JsonElement> DocumentAsync() => await Http.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");

    [Fact]
    public async Task Put_key_documents_its_body_conditions_ttl_fencing_and_etag()
    {
        var put = (await DocumentAsync()).GetProperty("paths").GetProperty("/v1/tables/{table}/keys/{key}").GetProperty("put");

        var body = put.GetProperty("requestBody");
        Assert.True(body.GetProperty("required").GetBoolean());
        Assert.True(body.GetProperty("content").TryGetProperty("application/json", out _));
        var parameters = put.GetProperty("parameters").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);
        Assert.Equal("header", parameters["If-Match"].GetProperty("in").GetString());
        Assert.Equal("header", parameters["If-None-Match"].GetProperty("in").GetString());
        Assert.Equal("header", parameters["Fencing-Token"].GetProperty("in").GetString());
        Assert.Contains("expires", parameters["ttlSeconds"].GetProperty("description").GetString());
        Assert.True(put.GetProperty("responses").GetProperty("201").GetProperty("headers").TryGetProperty("ETag", out _));
        Assert.True(put.GetProperty("responses").GetProperty("201").GetProperty("headers").TryGetProperty("Location", out _));
    }

    [Fact]
    public async Task Values_results_and_schemas_are_any_json_value_not_a_dotnet_json_node()
    {
        var document = await DocumentAsync();
        var schemas = document.GetProperty("components").GetProperty("schemas");

        Assert.False(schemas.TryGetProperty("JsonNode", out _));
        Assert.DoesNotContain("JsonNodeOptions", document.GetRawText());
        foreach (var (schema, property) in new[] { ("JobResponse", "result"), ("TaskKindResponse", "inputSchema"), ("KeyItem", "value"), ("TxnOpResult", "value") })
        {
            var described = schemas.GetProperty(schema).GetProperty("properties").GetProperty(property);
            Assert.False(described.TryGetProperty("$ref", out _), $"{schema}.{property} refers to a schema");
            Assert.False(described.TryGetProperty("type", out _), $"{schema}.{property} has a type");
            Assert.False(described.TryGetProperty("additionalProperties", out _));
        }
    }

    [Fact]
    public async Task Watch_documents_its_resume_header_Last_Event_ID_and_its_query()
    {
        var watch = (await DocumentAsync()).GetProperty("paths").GetProperty("/v1/tables/{table}/watch").GetProperty("get");

        var parameters = watch.GetProperty("parameters").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);
        Assert.Equal("header", parameters["Last-Event-ID"].GetProperty("in").GetString());
        Assert.False(parameters["Last-Event-ID"].TryGetProperty("required", out var required) && required.GetBoolean());
        Assert.Equal("string", parameters["Last-Event-ID"].GetProperty("schema").GetProperty("type").GetString());
        Assert.Contains("410", parameters["Last-Event-ID"].GetProperty("description").GetString());
        Assert.Equal("query", parameters["prefix"].GetProperty("in").GetString());
        Assert.Equal("query", parameters["fromRevision"].GetProperty("in").GetString());
        Assert.True(watch.GetProperty("responses").TryGetProperty("410", out _));
    }

    [Fact]
    public async Task Event_streams_are_text_event_stream()
    {
        var events = (await DocumentAsync()).GetProperty("paths").GetProperty("/v1/jobs/{id}/events").GetProperty("get");

        var content = events.GetProperty("responses").GetProperty("200").GetProperty("content");
        Assert.Equal(["text/event-stream"], content.EnumerateObject().Select(c => c.Name));
    }

    [Fact]
    public async Task Every_operation_has_a_unique_named_operation_id_and_the_document_has_servers_and_tags()
    {
        var document = await DocumentAsync();
        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(o => o.Name is "get" or "put" or "post" or "delete" or "patch")).ToList();

        var ids = operations.Select(o => o.Value.GetProperty("operationId").GetString()!).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.DoesNotContain(ids, id => id.StartsWith("unnamed_", StringComparison.Ordinal));
        Assert.NotEmpty(document.GetProperty("servers").EnumerateArray());
        var tags = document.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToHashSet();
        Assert.All(operations, o => Assert.All(o.Value.GetProperty("tags").EnumerateArray(), t => Assert.Contains(t.GetString(), tags)));
        Assert.Equal(["queued", "running", "paused", "succeeded", "failed", "cancelled"],
            document.GetProperty("components").GetProperty("schemas").GetProperty("JobResponse").GetProperty("properties").GetProperty("status")
                .GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Swagger_examples_are_accepted_as_they_are_and_the_description_keeps_its_angle_brackets()
    {
        var document = await DocumentAsync();
        var schemas = document.GetProperty("components").GetProperty("schemas");

        var table = await Http.PutAsync($"/v1/tables/{Names.Table()}", Json(schemas.GetProperty("CreateTableRequest").GetProperty("example").GetRawText()));
        var job = await Http.PostAsync("/v1/jobs", Json(schemas.GetProperty("JobRequest").GetProperty("example").GetRawText()));

        Assert.Equal(HttpStatusCode.Created, table.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, job.StatusCode);
        Assert.Contains("`Authorization: Bearer <API key>`", document.GetProperty("info").GetProperty("description").GetString());
    }

    [Theory]
    [InlineData("x%2Fy", "x/y")]
    [InlineData("x%2fy", "x/y")]
    [InlineData("x/y", "x%2Fy")]
    [InlineData("dir%2Fsub%2Fleaf", "dir/sub/leaf")]
    [InlineData("caf%C3%A9", "café")]
    public async Task A_key_means_the_same_whichever_way_it_is_encoded(string written, string read)
    {
        var table = await NewTableAsync();

        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}/keys/{written}", Json("1"))).StatusCode);
        var got = await Http.GetAsync($"/v1/tables/{table}/keys/{read}");

        Assert.Equal(HttpStatusCode.OK, got.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.PutAsync($"/v1/tables/{table}/keys/{read}", Json("2"))).StatusCode);
    }

    [Fact]
    public async Task Scanned_keys_round_trip_through_an_escaping_client()
    {
        var table = await NewTableAsync();
        string[] keys = ["a/b", "a%b", "a b", "a+b", "a?b#c", "é/ü"];
        foreach (var key in keys)
        {
            Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}/keys/{Uri.EscapeDataString(key)}", Json($"\"{key}\""))).StatusCode);
        }

        var scanned = (await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys")).GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("key").GetString()!).ToList();

        Assert.Equal(keys.Order(StringComparer.Ordinal), scanned);
        foreach (var key in scanned)
        {
            Assert.Equal($"\"{key}\"", await Http.GetStringAsync($"/v1/tables/{table}/keys/{Uri.EscapeDataString(key)}"));
        }
    }

    [Fact]
    public async Task An_unknown_field_is_named_in_errors_with_nothing_internal()
    {
        var response = await Http.PutAsync($"/v1/tables/{Names.Table()}", Json("{\"shardz\": 4}"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("shardz", out _));
        Assert.DoesNotMatch("OrleansCompute\\.|System\\.|CreateTableRequest", problem.GetRawText());
    }

    [Theory]
    [InlineData("{\"shards\": \"four\"}", "shards", "integer")]
    [InlineData("{\"transactional\": 1}", "transactional", "true or false")]
    public async Task A_wrong_type_names_the_field_and_what_it_should_be(string body, string field, string expected)
    {
        var response = await Http.PutAsync($"/v1/tables/{Names.Table()}", Json(body));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, problem.GetProperty("errors").GetProperty(field)[0].GetString());
        Assert.DoesNotMatch("System\\.|Nullable", problem.GetRawText());
    }

    [Fact]
    public async Task A_body_without_content_type_is_json_and_a_non_json_one_is_a_415_that_says_what_to_send()
    {
        var untyped = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"shards\": 2}"));
        var text = new StringContent("{\"shards\": 2}", Encoding.UTF8, "text/plain");

        var created = await Http.PutAsync($"/v1/tables/{Names.Table()}", untyped);
        var refused = await Http.PutAsync($"/v1/tables/{Names.Table()}", text);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var problem = await AssertProblemAsync(refused, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal("urn:orleans-compute:problem:unsupported-media-type", problem.GetProperty("type").GetString());
        Assert.Contains("application/json", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Task_kinds_and_tenants_are_pages_of_objects()
    {
        var kinds = await Http.GetFromJsonAsync<JsonElement>("/v1/task-kinds");
        var tenants = await Http.GetFromJsonAsync<JsonElement>("/v1/admin/tenants");

        Assert.Equal(JsonValueKind.Object, kinds.ValueKind);
        Assert.Equal(JsonValueKind.String, kinds.GetProperty("items")[0].GetProperty("name").ValueKind);
        Assert.True(tenants.TryGetProperty("next", out _));
        Assert.All(tenants.GetProperty("items").EnumerateArray(), t =>
        {
            Assert.Equal(JsonValueKind.String, t.GetProperty("name").ValueKind);
            Assert.Matches(Timestamp(), t.GetProperty("createdAt").GetString());
        });
    }

    [Fact]
    public async Task Every_timestamp_is_utc_with_milliseconds_and_a_z()
    {
        var table = await NewTableAsync();
        var submitted = await Http.PostAsync("/v1/jobs", Json("{\"kind\": \"sleep\", \"input\": {\"tasks\": 1, \"milliseconds\": 1}}"));
        var job = await Http.WaitForEndAsync((await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        var cluster = await Http.GetFromJsonAsync<JsonElement>("/v1/cluster");
        var described = await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}");

        string?[] stamps =
        [
            described.GetProperty("createdAt").GetString(), job.GetProperty("createdAt").GetString(),
            job.GetProperty("startedAt").GetString(), job.GetProperty("finishedAt").GetString(),
            cluster.GetProperty("silos")[0].GetProperty("startedAt").GetString(),
        ];
        Assert.All(stamps, s => Assert.Matches(Timestamp(), s));
    }

    [Fact]
    public async Task A_403_names_the_missing_scope()
    {
        var reader = await Http.TenantClientAsync(fixture.Cluster.Api, "[\"data:read\"]");

        var problem = await AssertProblemAsync(await reader.PostAsync("/v1/jobs", Json("{\"kind\": \"primes\"}")), HttpStatusCode.Forbidden);

        Assert.Contains("'jobs'", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_cursor_parameter_is_refused_and_points_at_after()
    {
        var problem = await AssertProblemAsync(await Http.GetAsync("/v1/tables?cursor=abc"), HttpStatusCode.BadRequest);

        Assert.Contains("after", problem.GetProperty("errors").GetProperty("cursor")[0].GetString());
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")]
    private static partial Regex Timestamp();

    private async Task<string> NewTableAsync()
    {
        var table = Names.Table();
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("{\"shards\": 4}"))).StatusCode);
        return table;
    }
}
