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

    // A long-running occtl (kv watch) in the background, stopped by its token like Ctrl-C; its output
    // is read while it runs (the writer is synchronized: the command writes from its own task).
    private sealed class Running(Task<int> run, TextWriter output, StringWriter text, CancellationTokenSource stop)
    {
        public string Out
        {
            get
            {
                lock (output)
                {
                    return text.ToString();
                }
            }
        }

        public IReadOnlyList<string> Lines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        public async Task StopAsync()
        {
            await stop.CancelAsync();
            try
            {
                await run.WaitAsync(TimeSpan.FromSeconds(60));
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private Running Start(params string[] args)
    {
        var text = new StringWriter();
        var output = TextWriter.Synchronized(text);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 200;
        var stop = new CancellationTokenSource();
        var environment = new Dictionary<string, string?> { ["OC_URL"] = "http://localhost", ["OC_KEY"] = TestKeys.Admin, ["OC_CONFIG"] = "/nonexistent" };
        var run = Task.Run(() => Occtl.RunAsync(args, console, new StringWriter(), name => environment.GetValueOrDefault(name), fixture.Cluster.Api.Server.CreateHandler(), stop.Token));
        return new Running(run, output, text, stop);
    }

    [Fact]
    public async Task Kv_watch_shows_puts_and_deletes_under_its_prefix_and_resumes_from_a_cursor()
    {
        var table = Names.Table();
        Assert.Equal(0, (await RunAsync("tables", "create", table, "--shards", "2")).Code);
        Assert.Equal(0, (await RunAsync("kv", "put", table, "w/a", "1")).Code);
        Assert.Equal(0, (await RunAsync("kv", "put", table, "w/b", "{\"n\":2}")).Code);
        Assert.Equal(0, (await RunAsync("kv", "put", table, "other", "3")).Code);
        Assert.Equal(0, (await RunAsync("kv", "del", table, "w/a")).Code);

        // From revision 1 of every shard, as JSON: the three changes under w/, each once, w/a's in order.
        var json = Start("kv", "watch", table, "--prefix", "w/", "--from-revision", "1", "-o", "json");
        List<JsonElement> changes = [];
        await Eventually.WaitAsync(() =>
        {
            changes = [.. json.Lines.Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("type").GetString() is "put" or "delete")];
            return Task.FromResult(changes.Count >= 3);
        }, TimeSpan.FromSeconds(60), "occtl kv watch to print three changes");
        await json.StopAsync();

        changes = [.. json.Lines.Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("type").GetString() is "put" or "delete")];
        // Per key in order (keys of different shards have no order between them).
        string Show(JsonElement e) => e.GetProperty("type").GetString() == "put" ? $"put v{e.GetProperty("version").GetInt64()}" : "delete";
        Assert.Equal(3, changes.Count);
        Assert.Equal(["put v1", "delete"], changes.Where(e => e.GetProperty("key").GetString() == "w/a").Select(Show));
        Assert.Equal(["put v1"], changes.Where(e => e.GetProperty("key").GetString() == "w/b").Select(Show));
        Assert.Equal("{\"n\":2}", changes.Single(e => e.GetProperty("key").GetString() == "w/b").GetProperty("value").GetRawText());
        Assert.DoesNotContain("other", json.Out);
        var cursor = changes[^1].GetProperty("cursor").GetString()!;

        // Changes made while nobody watched, then a resume from the cursor in the table format:
        // those changes, and nothing from before the cursor again.
        Assert.Equal(0, (await RunAsync("kv", "put", table, "w/c", "4")).Code);
        Assert.Equal(0, (await RunAsync("kv", "put", table, "w/b", "5")).Code);
        var resumed = Start("kv", "watch", table, "--prefix", "w/", "--cursor", cursor);
        try
        {
            await Eventually.WaitAsync(() => Task.FromResult(resumed.Lines.Count(l => l.StartsWith("put", StringComparison.Ordinal)) >= 2),
                TimeSpan.FromSeconds(60), "the resumed watch to print the two later puts");
            Assert.Equal(0, (await RunAsync("kv", "del", table, "w/c")).Code);
            await Eventually.WaitAsync(() => Task.FromResult(resumed.Lines.Any(l => l.StartsWith("delete", StringComparison.Ordinal))),
                TimeSpan.FromSeconds(60), "the resumed watch to print a delete made while it runs");
        }
        finally
        {
            await resumed.StopAsync();
        }

        var lines = resumed.Lines;
        Assert.Equal(3, lines.Count);
        Assert.Single(lines, l => l.StartsWith("put ", StringComparison.Ordinal) && l.Contains(" w/c v1 ") && l.EndsWith(" 4", StringComparison.Ordinal));
        Assert.Single(lines, l => l.StartsWith("put ", StringComparison.Ordinal) && l.Contains(" w/b v2 ") && l.EndsWith(" 5", StringComparison.Ordinal));
        Assert.StartsWith("delete w/c v", lines[^1]);
        Assert.DoesNotContain(lines, l => l.Contains("w/a"));
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
