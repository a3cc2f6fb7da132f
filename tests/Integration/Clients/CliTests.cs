using System.Text.Json;
using OrleansCompute.Cli;
using OrleansCompute.Tests.Infrastructure;
using Spectre.Console;

namespace OrleansCompute.Tests.Clients;

/// <summary>occtl end to end against the real Api and two silos on PostgreSQL: output and exit codes.</summary>
[Collection(SharedClusterCollection.Name)]
public class CliTests(SharedClusterFixture fixture)
{
    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args) =>
        await RunWithAsync(new Dictionary<string, string?> { ["OC_URL"] = "http://localhost", ["OC_KEY"] = TestKeys.Admin, ["OC_CONFIG"] = "/nonexistent" }, args);

    private async Task<(int Code, string Out, string Err)> RunWithAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 200;
        var code = await Occtl.RunAsync(args, console, error, name => environment.GetValueOrDefault(name), fixture.Cluster.Api.Server.CreateHandler());
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Kv_put_get_scan_del_with_a_slash_in_the_key()
    {
        var table = Names.Table();
        Assert.Equal(0, (await RunAsync("tables", "create", table, "--shards", "2")).Code);

        var put = await RunAsync("kv", "put", table, "orders/1", "{\"qty\":2}");
        var get = await RunAsync("kv", "get", table, "orders/1", "-o", "json");
        var scan = await RunAsync("kv", "scan", table, "--prefix", "orders/");
        var del = await RunAsync("kv", "del", table, "orders/1");
        var gone = await RunAsync("kv", "get", table, "orders/1");

        Assert.Equal(0, put.Code);
        Assert.Matches(@"version\s+1", put.Out);
        Assert.Equal("{\"qty\":2}", get.Out.Trim());
        Assert.Contains("orders/1", scan.Out);
        Assert.Contains("{\"qty\":2}", scan.Out);
        Assert.Equal(0, del.Code);
        Assert.Equal(1, gone.Code);
        Assert.Contains("404", gone.Err);
    }

    [Fact]
    public async Task A_failed_condition_exits_1_with_the_problem_and_bad_usage_exits_2()
    {
        var table = Names.Table();
        await RunAsync("tables", "create", table);
        await RunAsync("kv", "put", table, "k", "1");

        var stale = await RunAsync("kv", "put", table, "k", "2", "--if-version", "7");
        var badJson = await RunAsync("kv", "put", table, "k", "not json");
        var unknownCommand = await RunAsync("kv", "frobnicate");
        var noKey = await RunWithAsync(new Dictionary<string, string?> { ["OC_CONFIG"] = "/nonexistent" }, "tables", "list");

        Assert.Equal((1, true), (stale.Code, stale.Err.Contains("412")));
        Assert.Equal(2, badJson.Code);
        Assert.Contains("not valid JSON", badJson.Err);
        Assert.Equal(2, unknownCommand.Code);
        Assert.Equal(2, noKey.Code);
        Assert.Contains("OC_KEY", noKey.Err);
    }

    [Fact]
    public async Task Jobs_submit_watch_shows_progress_and_the_result()
    {
        var watched = await RunAsync("jobs", "submit", "primes", "--input", "{\"from\":1,\"to\":10000,\"chunkSize\":2500}", "--watch");

        Assert.Equal(0, watched.Code);
        Assert.Contains("succeeded: 4/4 tasks succeeded, result {\"count\":1229}", watched.Out);
    }

    [Fact]
    public async Task Jobs_get_and_list_in_json_are_the_apis_json()
    {
        var submitted = await RunAsync("jobs", "submit", "sleep", "-i", "{\"tasks\":1,\"milliseconds\":1}", "-o", "json");
        var id = JsonDocument.Parse(submitted.Out).RootElement.GetProperty("id").GetString()!;
        var watched = await RunAsync("jobs", "watch", id, "-o", "json");
        var got = await RunAsync("jobs", "get", id, "-o", "json");
        var listed = await RunAsync("jobs", "list", "--status", "succeeded", "-o", "json");

        Assert.Equal(0, watched.Code);
        Assert.Equal("succeeded", JsonDocument.Parse(watched.Out.Trim().Split('\n')[^1]).RootElement.GetProperty("status").GetString());
        Assert.Equal("succeeded", JsonDocument.Parse(got.Out).RootElement.GetProperty("status").GetString());
        Assert.Contains(JsonDocument.Parse(listed.Out).RootElement.EnumerateArray(), j => j.GetProperty("id").GetString() == id);
        Assert.Equal(2, (await RunAsync("jobs", "list", "--status", "done")).Code);
    }

    [Fact]
    public async Task Jobs_retry_and_delete_and_schedules_trigger_and_runs()
    {
        var cancelled = JsonDocument.Parse((await RunAsync("jobs", "submit", "sleep", "-i", "{\"tasks\":1,\"milliseconds\":60000}", "-o", "json")).Out).RootElement.GetProperty("id").GetString()!;
        var busy = await RunAsync("jobs", "delete", cancelled);
        Assert.Equal(0, (await RunAsync("jobs", "cancel", cancelled)).Code);

        var retried = await RunAsync("jobs", "retry", cancelled, "-o", "json");
        var retry = JsonDocument.Parse(retried.Out).RootElement.GetProperty("id").GetString()!;
        var shown = await RunAsync("jobs", "get", retry);
        Assert.Equal(0, (await RunAsync("jobs", "cancel", retry)).Code);

        Assert.Equal(1, busy.Code);
        Assert.Equal(0, retried.Code);
        Assert.Matches($"retry of\\W+{cancelled}", shown.Out); // the table row, whatever its borders
        Assert.Equal(0, (await RunAsync("jobs", "delete", cancelled)).Code);
        Assert.Equal(1, (await RunAsync("jobs", "delete", cancelled)).Code);

        var name = Names.Table("cli");
        Assert.Equal(0, (await RunAsync("schedules", "put", name, "--cron", "0 0 1 1 *", "--kind", "sleep", "-i", "{\"tasks\":2,\"milliseconds\":1}")).Code);
        var triggered = await RunAsync("schedules", "trigger", name, "--watch");
        var runs = await RunAsync("schedules", "runs", name, "-o", "json");
        var listed = await RunAsync("jobs", "list", "--schedule", name, "--kind", "sleep", "--created-after", "2026-01-01T00:00:00Z", "-o", "json");

        Assert.Equal(0, triggered.Code);
        Assert.Contains("succeeded: 2/2 tasks succeeded", triggered.Out);
        var run = Assert.Single(JsonDocument.Parse(runs.Out).RootElement.EnumerateArray());
        Assert.Equal((name, "succeeded"), (run.GetProperty("schedule").GetString(), run.GetProperty("status").GetString()));
        Assert.Equal(run.GetProperty("id").GetString(), Assert.Single(JsonDocument.Parse(listed.Out).RootElement.EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(2, (await RunAsync("jobs", "list", "--created-after", "yesterday")).Code);
        Assert.Equal(0, (await RunAsync("schedules", "delete", name)).Code);
    }

    [Fact]
    public async Task Txn_from_a_file_and_cluster_and_admin()
    {
        var table = Names.Table();
        await RunAsync("tables", "create", table, "--transactional");
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, $$"""{"success": [{"op": "put", "table": "{{table}}", "key": "a", "value": 5}, {"op": "add", "table": "{{table}}", "key": "a", "value": 1}]}""");
        var tenant = Names.Table("tn");

        var txn = await RunAsync("txn", "-f", file);
        var cluster = await RunAsync("cluster");
        var created = await RunAsync("admin", "tenants", "create", tenant);
        var issued = await RunAsync("admin", "keys", "issue", tenant, "ci", "--scope", "data:read", "--scope", "jobs", "-o", "json");

        Assert.Equal(0, txn.Code);
        Assert.Contains("succeeded: yes", txn.Out);
        Assert.Contains("Active", cluster.Out);
        Assert.Equal(0, created.Code);
        Assert.Equal(["data:read", "jobs"], JsonDocument.Parse(issued.Out).RootElement.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        File.Delete(file);
    }

    [Fact]
    public async Task The_endpoint_and_key_come_from_flags_over_environment_over_the_profile_file()
    {
        var profile = Path.GetTempFileName();
        await File.WriteAllTextAsync(profile, "{\"profiles\": {\"default\": {\"url\": \"http://localhost\", \"key\": \"" + TestKeys.Admin + "\"}, \"wrong\": {\"url\": \"http://localhost\", \"key\": \"nope\"}}}");

        var fromProfile = await RunWithAsync(new Dictionary<string, string?> { ["OC_CONFIG"] = profile }, "tables", "list");
        var wrongProfile = await RunWithAsync(new Dictionary<string, string?> { ["OC_CONFIG"] = profile }, "tables", "list", "--profile", "wrong");
        var flagWins = await RunWithAsync(new Dictionary<string, string?> { ["OC_CONFIG"] = profile, ["OC_KEY"] = "nope" }, "tables", "list", "--key", TestKeys.Admin);

        Assert.Equal(0, fromProfile.Code);
        Assert.Equal(1, wrongProfile.Code);
        Assert.Contains("401", wrongProfile.Err);
        Assert.Equal(0, flagWins.Code);
        File.Delete(profile);
    }
}
