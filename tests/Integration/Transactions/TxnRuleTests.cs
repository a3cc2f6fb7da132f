using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Transactions;

/// <summary>SPEC §4.2, one test per rule, through the REST API against two silos on PostgreSQL.</summary>
[Collection(SharedClusterCollection.Name)]
public class TxnRuleTests(SharedClusterFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Theory]
    [InlineData("==", "10", true)]
    [InlineData("==", "10.0", true)]
    [InlineData("!=", "10", false)]
    [InlineData(">", "9", true)]
    [InlineData(">", "10", false)]
    [InlineData(">=", "10", true)]
    [InlineData("<", "10", false)]
    [InlineData("<", "11", true)]
    [InlineData("<=", "10", true)]
    [InlineData("<=", "9.5", false)]
    public async Task Compare_value_orders_numbers_by_value(string op, string operand, bool holds)
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "n", "10");

        var answer = await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"n","target":"value","op":"{{op}}","value":{{operand}}}]}""");

        Assert.Equal(holds, answer.GetProperty("succeeded").GetBoolean());
    }

    [Theory]
    [InlineData("==", "\"abc\"", true)]
    [InlineData("<", "\"abd\"", true)]
    [InlineData(">", "\"abd\"", false)]
    [InlineData("==", "5", false)]
    [InlineData("!=", "5", true)]
    [InlineData(">", "5", false)]
    public async Task Compare_value_orders_strings_and_never_orders_different_kinds(string op, string operand, bool holds)
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "s", "\"abc\"");

        var answer = await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"s","target":"value","op":"{{op}}","value":{{operand}}}]}""");

        Assert.Equal(holds, answer.GetProperty("succeeded").GetBoolean());
    }

    [Fact]
    public async Task Compare_value_of_objects_is_structural_equality_and_an_absent_key_matches_nothing()
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "o", """{"a":1,"b":[true,null]}""");

        Assert.True((await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"o","target":"value","op":"==","value":{"b":[true,null],"a":1} }]}""")).GetProperty("succeeded").GetBoolean());
        Assert.False((await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"o","target":"value","op":"==","value":{"a":2} }]}""")).GetProperty("succeeded").GetBoolean());
        Assert.False((await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"none","target":"value","op":"!=","value":1}]}""")).GetProperty("succeeded").GetBoolean());
    }

    [Theory]
    [InlineData("==", 2, true)]
    [InlineData("!=", 2, false)]
    [InlineData(">", 1, true)]
    [InlineData(">=", 3, false)]
    [InlineData("<", 3, true)]
    [InlineData("<=", 1, false)]
    public async Task Compare_version_uses_the_keys_version(string op, int operand, bool holds)
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "v", "1");
        await Http.PutAsync(table, "v", "2");

        var answer = await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"v","target":"version","op":"{{op}}","value":{{operand}}}]}""");

        Assert.Equal(holds, answer.GetProperty("succeeded").GetBoolean());
    }

    [Fact]
    public async Task Compare_version_of_an_absent_key_is_zero_and_exists_tells_present_from_absent()
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "here", "null");

        Assert.True((await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"gone","target":"version","op":"==","value":0}]}""")).GetProperty("succeeded").GetBoolean());
        Assert.True((await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"here","target":"exists","op":"==","value":true}]}""")).GetProperty("succeeded").GetBoolean());
        Assert.True((await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"gone","target":"exists","op":"==","value":false}]}""")).GetProperty("succeeded").GetBoolean());
        Assert.False((await Http.TxnOkAsync($$"""{"compare":[{"table":"{{table}}","key":"here","target":"exists","op":"!=","value":true}]}""")).GetProperty("succeeded").GetBoolean());
    }

    [Fact]
    public async Task The_success_branch_runs_when_every_compare_holds_and_only_it_applies()
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "a", "1");

        var body = $$"""
            {"compare":[{"table":"{{table}}","key":"a","target":"value","op":"==","value":1},
                        {"table":"{{table}}","key":"a","target":"exists","op":"==","value":true}],
             "success":[{"op":"put","table":"{{table}}","key":"s","value":"yes"}],
             "failure":[{"op":"put","table":"{{table}}","key":"f","value":"no"}]}
            """;
        var answer = await Http.TxnOkAsync(body);

        Assert.True(answer.GetProperty("succeeded").GetBoolean());
        Assert.Equal("\"yes\"", await Http.ValueAsync(table, "s"));
        Assert.Null(await Http.ValueAsync(table, "f"));
    }

    [Fact]
    public async Task The_failure_branch_runs_when_any_compare_fails_and_only_it_applies()
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "a", "1");

        var body = $$"""
            {"compare":[{"table":"{{table}}","key":"a","target":"value","op":"==","value":1},
                        {"table":"{{table}}","key":"a","target":"version","op":">","value":1}],
             "success":[{"op":"put","table":"{{table}}","key":"s","value":"yes"}],
             "failure":[{"op":"put","table":"{{table}}","key":"f","value":"no"},{"op":"get","table":"{{table}}","key":"a"}]}
            """;
        var answer = await Http.TxnOkAsync(body);

        Assert.False(answer.GetProperty("succeeded").GetBoolean());
        Assert.Equal(2, answer.GetProperty("results").GetArrayLength());
        Assert.Equal(1, answer.Result(1).GetProperty("value").GetInt32());
        Assert.Null(await Http.ValueAsync(table, "s"));
        Assert.Equal("\"no\"", await Http.ValueAsync(table, "f"));
    }

    [Fact]
    public async Task Get_put_and_delete_answer_op_table_key_value_and_version_and_see_earlier_ops()
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "k", "{\"x\":1}");

        var answer = await Http.TxnOkAsync($$"""
            {"success":[{"op":"get","table":"{{table}}","key":"k"},
                        {"op":"put","table":"{{table}}","key":"k","value":{"x":2} },
                        {"op":"get","table":"{{table}}","key":"k"},
                        {"op":"delete","table":"{{table}}","key":"k"},
                        {"op":"get","table":"{{table}}","key":"k"}]}
            """);

        var results = answer.GetProperty("results");
        Assert.Equal(["get", "put", "get", "delete", "get"], results.EnumerateArray().Select(r => r.GetProperty("op").GetString()));
        Assert.All(results.EnumerateArray(), r => Assert.Equal(table, r.GetProperty("table").GetString()));
        Assert.All(results.EnumerateArray(), r => Assert.Equal("k", r.GetProperty("key").GetString()));
        Assert.Equal(1, results[0].GetProperty("version").GetInt64());
        Assert.Equal(2, results[1].GetProperty("version").GetInt64());
        Assert.Equal(2, results[2].GetProperty("value").GetProperty("x").GetInt32());
        Assert.Equal(2, results[3].GetProperty("version").GetInt64());
        Assert.Equal(JsonValueKind.Null, results[4].GetProperty("value").ValueKind);
        Assert.Equal(0, results[4].GetProperty("version").GetInt64());
        Assert.Null(await Http.ValueAsync(table, "k"));
    }

    [Fact]
    public async Task Add_adds_to_a_number_and_a_missing_key_counts_as_zero()
    {
        var table = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "n", "2.5");

        var answer = await Http.TxnOkAsync($$"""
            {"success":[{"op":"add","table":"{{table}}","key":"n","value":-1},
                        {"op":"add","table":"{{table}}","key":"fresh","value":7}]}
            """);

        Assert.Equal(1.5m, answer.Result(0).GetProperty("value").GetDecimal());
        Assert.Equal(2, answer.Result(0).GetProperty("version").GetInt64());
        Assert.Equal(7, answer.Result(1).GetProperty("value").GetInt32());
        Assert.Equal(1, answer.Result(1).GetProperty("version").GetInt64());
        Assert.Equal("7", await Http.ValueAsync(table, "fresh"));
    }

    [Fact]
    public async Task Add_to_a_value_that_is_not_a_number_is_a_400_and_the_whole_transaction_changes_nothing()
    {
        var table = await Http.NewTransactionalTableAsync();
        var other = await Http.NewTransactionalTableAsync();
        await Http.PutAsync(table, "text", "\"abc\"");
        await Http.PutAsync(other, "n", "1");

        var response = await Http.TxnAsync($$"""
            {"success":[{"op":"add","table":"{{other}}","key":"n","value":1},
                        {"op":"put","table":"{{other}}","key":"new","value":true},
                        {"op":"add","table":"{{table}}","key":"text","value":1}]}
            """);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("success[2]", out _), problem.GetRawText());
        Assert.Equal("1", await Http.ValueAsync(other, "n"));
        Assert.Null(await Http.ValueAsync(other, "new"));
        Assert.Equal("\"abc\"", await Http.ValueAsync(table, "text"));
    }

    [Fact]
    public async Task A_transaction_commits_across_tables_and_shards_together()
    {
        var accounts = await Http.NewTransactionalTableAsync(shards: 8);
        var audit = await Http.NewTransactionalTableAsync(shards: 2);
        await Http.PutAsync(accounts, "alice", "100");

        var answer = await Http.TxnOkAsync($$"""
            {"compare":[{"table":"{{accounts}}","key":"alice","target":"value","op":">=","value":10}],
             "success":[{"op":"add","table":"{{accounts}}","key":"alice","value":-10},
                        {"op":"add","table":"{{accounts}}","key":"bob","value":10},
                        {"op":"put","table":"{{audit}}","key":"t1","value":{"from":"alice","to":"bob","amount":10} }],
             "failure":[{"op":"get","table":"{{accounts}}","key":"alice"}]}
            """);

        Assert.True(answer.GetProperty("succeeded").GetBoolean());
        Assert.Equal("90", await Http.ValueAsync(accounts, "alice"));
        Assert.Equal("10", await Http.ValueAsync(accounts, "bob"));
        Assert.NotNull(await Http.ValueAsync(audit, "t1"));
    }

    [Fact]
    public async Task A_transaction_that_touches_a_non_transactional_table_is_a_400_and_changes_nothing()
    {
        var transactional = await Http.NewTransactionalTableAsync();
        var plain = Names.Table("plain");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{plain}", Json("{\"shards\": 2}"))).StatusCode);

        var response = await Http.TxnAsync($$"""
            {"success":[{"op":"put","table":"{{transactional}}","key":"a","value":1},
                        {"op":"put","table":"{{plain}}","key":"b","value":1}]}
            """);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("not transactional", problem.GetProperty("errors").GetProperty("success[1].table")[0].GetString());
        Assert.Null(await Http.ValueAsync(transactional, "a"));
        Assert.Null(await Http.ValueAsync(plain, "b"));
    }

    [Fact]
    public async Task More_than_64_ops_is_a_400()
    {
        var table = await Http.NewTransactionalTableAsync();
        var ops = string.Join(',', Enumerable.Range(0, 65).Select(i => $$"""{"op":"put","table":"{{table}}","key":"k{{i}}","value":{{i}}}"""));

        var problem = await AssertProblemAsync(await Http.TxnAsync($$"""{"success":[{{ops}}]}"""), HttpStatusCode.BadRequest);

        Assert.Contains("at most 64", problem.GetProperty("errors").GetProperty("ops")[0].GetString());
        Assert.Null(await Http.ValueAsync(table, "k0"));
        var sixtyFour = string.Join(',', Enumerable.Range(0, 64).Select(i => $$"""{"op":"put","table":"{{table}}","key":"k{{i}}","value":{{i}}}"""));
        await Http.TxnOkAsync($$"""{"success":[{{sixtyFour}}]}""");
        Assert.Equal("63", await Http.ValueAsync(table, "k63"));
    }

    [Theory]
    [InlineData("\"target\":\"size\",\"op\":\"==\",\"value\":1", "compare[0].target")]
    [InlineData("\"target\":\"value\",\"op\":\"=~\",\"value\":1", "compare[0].op")]
    [InlineData("\"target\":\"value\",\"op\":\"==\"", "compare[0].value")]
    [InlineData("\"target\":\"exists\",\"op\":\"==\",\"value\":1", "compare[0].value")]
    [InlineData("\"target\":\"exists\",\"op\":\">\",\"value\":true", "compare[0].op")]
    [InlineData("\"target\":\"version\",\"op\":\"==\",\"value\":\"1\"", "compare[0].value")]
    [InlineData("\"target\":\"version\",\"op\":\"==\",\"value\":-1", "compare[0].value")]
    [InlineData("\"target\":\"value\",\"op\":\">\",\"value\":{\"a\":1}", "compare[0].value")]
    public async Task A_malformed_compare_is_a_400_naming_the_field(string fields, string field)
    {
        var table = await Http.NewTransactionalTableAsync();

        var response = await Http.TxnAsync($$"""{"compare":[{"table":"{{table}}","key":"k",{{fields}}}],"success":[{"op":"put","table":"{{table}}","key":"k","value":1}]}""");

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Null(await Http.ValueAsync(table, "k"));
    }

    [Theory]
    [InlineData("{\"op\":\"merge\",\"table\":\"T\",\"key\":\"k\"}", "success[0].op")]
    [InlineData("{\"op\":\"put\",\"table\":\"T\",\"key\":\"k\"}", "success[0].value")]
    [InlineData("{\"op\":\"get\",\"table\":\"T\",\"key\":\"k\",\"value\":1}", "success[0].value")]
    [InlineData("{\"op\":\"add\",\"table\":\"T\",\"key\":\"k\",\"value\":\"1\"}", "success[0].value")]
    [InlineData("{\"op\":\"get\",\"table\":\"Bad Name\",\"key\":\"k\"}", "success[0].table")]
    [InlineData("{\"op\":\"get\",\"table\":\"T\",\"key\":\"\"}", "success[0].key")]
    public async Task A_malformed_op_is_a_400_naming_the_field(string op, string field)
    {
        var table = await Http.NewTransactionalTableAsync();

        var response = await Http.TxnAsync($"{{\"success\":[{op.Replace("\"T\"", $"\"{table}\"")}]}}");

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task Unknown_fields_and_missing_tables_are_refused()
    {
        await AssertProblemAsync(await Http.TxnAsync("""{"success":[],"then":[]}"""), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await Http.TxnAsync($$"""{"success":[{"op":"get","table":"{{Names.Table("none")}}","key":"k"}]}"""), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Single_key_calls_on_a_transactional_table_are_transactions_with_versions_and_conditions()
    {
        var table = await Http.NewTransactionalTableAsync();
        var uri = $"/v1/tables/{table}/keys/doc";

        var created = await Http.PutAsync(uri, Json("{\"n\":1}"));
        var replaced = await Http.PutAsync(uri, Json("{\"n\":2}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal("\"2\"", replaced.Headers.ETag!.Tag);

        var stale = new HttpRequestMessage(HttpMethod.Put, uri) { Content = Json("{}") };
        stale.Headers.IfMatch.Add(new("\"1\""));
        var problem = await AssertProblemAsync(await Http.SendAsync(stale), HttpStatusCode.PreconditionFailed);
        Assert.Equal(2, problem.GetProperty("currentVersion").GetInt64());

        var createOnly = new HttpRequestMessage(HttpMethod.Put, uri) { Content = Json("{}") };
        createOnly.Headers.IfNoneMatch.Add(System.Net.Http.Headers.EntityTagHeaderValue.Any);
        await AssertProblemAsync(await Http.SendAsync(createOnly), HttpStatusCode.PreconditionFailed);

        var get = await Http.GetAsync(uri);
        Assert.Equal("{\"n\":2}", await get.Content.ReadAsStringAsync());
        Assert.Equal("\"2\"", get.Headers.ETag!.Tag);

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync(uri)).StatusCode);
        await AssertProblemAsync(await Http.DeleteAsync(uri), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.GetAsync(uri), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Scans_and_counts_of_a_transactional_table_show_committed_keys_in_order()
    {
        var table = await Http.NewTransactionalTableAsync(shards: 3);
        await Http.TxnOkAsync($$"""{"success":[{{string.Join(',', Enumerable.Range(0, 12).Select(i => $$"""{"op":"put","table":"{{table}}","key":"k{{i:D2}}","value":{{i}}}"""))}}]}""");
        await Http.TxnOkAsync($$"""{"success":[{"op":"delete","table":"{{table}}","key":"k05"},{"op":"put","table":"{{table}}","key":"other","value":0}]}""");
        // An aborted transaction creates nothing, so scans never list its keys.
        await AssertProblemAsync(await Http.TxnAsync($$"""{"success":[{"op":"put","table":"{{table}}","key":"k99","value":1},{"op":"add","table":"{{table}}","key":"k00","value":1},{"op":"put","table":"{{table}}","key":"other","value":"x"},{"op":"add","table":"{{table}}","key":"other","value":1}]}"""), HttpStatusCode.BadRequest);

        var first = await Http.ScanAsync(table, "?prefix=k&limit=5");
        var keys = first.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("key").GetString()).ToList();
        Assert.Equal(["k00", "k01", "k02", "k03", "k04"], keys);
        var rest = await Http.ScanAsync(table, $"?prefix=k&limit=100&after={first.GetProperty("next").GetString()}");
        Assert.Equal(["k06", "k07", "k08", "k09", "k10", "k11"], rest.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("key").GetString()));
        Assert.Equal(JsonValueKind.Null, rest.GetProperty("next").ValueKind);
        Assert.Equal(12, (await Http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}")).GetProperty("keyCount").GetInt64());
    }

    [Fact]
    public async Task Ttls_and_batches_are_refused_on_transactional_tables()
    {
        var table = await Http.NewTransactionalTableAsync();

        await AssertProblemAsync(await Http.PutAsync($"/v1/tables/{table}/keys/k?ttlSeconds=10", Json("1")), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await Http.PostAsync($"/v1/tables/{table}/batch", Json("""{"ops":[{"op":"put","key":"k","value":1}]}""")), HttpStatusCode.BadRequest);
        Assert.Null(await Http.ValueAsync(table, "k"));
    }
}
