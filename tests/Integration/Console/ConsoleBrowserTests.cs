using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using OrleansCompute.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;
using static OrleansCompute.Tests.Infrastructure.JobClient;

namespace OrleansCompute.Tests.Console;

/// <summary>
/// The web console (issue 16) in a real headless Chromium against the real Api, two silos and
/// PostgreSQL: every click goes through the public REST API with the signed-in key. A failing
/// test leaves a screenshot in .tmp/console-failures/.
/// </summary>
[Collection(ConsoleBrowserCollection.Name)]
public sealed partial class ConsoleBrowserTests(ConsoleBrowserFixture fixture)
{
    private static readonly float JobTimeoutMs = (float)JobClient.JobTimeout.TotalMilliseconds;

    static ConsoleBrowserTests() => SetDefaultExpectTimeout(30_000);

    private HttpClient Http => fixture.Http;

    [Fact]
    public Task Signing_in_keeps_the_key_for_the_tab_only_and_shows_the_cluster() => InBrowserAsync(async tab =>
    {
        await SignInAsync(tab.Page, TestKeys.Admin);
        await tab.Page.GetByRole(AriaRole.Link, new() { Name = "Cluster" }).ClickAsync();

        await Expect(tab.Page.GetByTestId("silos").Locator("tbody tr")).ToHaveCountAsync(fixture.Cluster.Silos.Count);
        await Expect(tab.Page.GetByTestId("silos").Locator("[data-status=Active]")).ToHaveCountAsync(fixture.Cluster.Silos.Count);
        await Expect(tab.Page.GetByTestId("moves-in-flight")).ToBeVisibleAsync();
        Assert.Equal(TestKeys.Admin, await tab.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('orleans-compute.api-key')"));
        Assert.Equal(0, await tab.Page.EvaluateAsync<int>("() => localStorage.length"));
        Assert.Empty(await tab.Context.CookiesAsync());

        // Signing out forgets the key; a new tab of the same browser starts signed out.
        await tab.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(tab.Page.GetByTestId("sign-in")).ToBeVisibleAsync();
        Assert.Null(await tab.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('orleans-compute.api-key')"));
        var other = await tab.Context.NewPageAsync();
        await other.GotoAsync("/console/#/jobs");
        await Expect(other.GetByTestId("sign-in")).ToBeVisibleAsync();
    });

    [Fact]
    public Task A_wrong_key_is_refused() => InBrowserAsync(async tab =>
    {
        await SignInAsync(tab.Page, "not-a-key-of-this-cluster");

        await Expect(tab.Page.GetByTestId("sign-in-status")).ToContainTextAsync("does not accept this key");
        await Expect(tab.Page.Locator("#nav")).ToBeHiddenAsync();
        Assert.Null(await tab.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('orleans-compute.api-key')"));
    });

    [Fact]
    public Task A_key_revoked_while_signed_in_signs_the_tab_out() => InBrowserAsync(async tab =>
    {
        var (tenant, id, key) = await IssueTenantKeyAsync("[\"jobs\"]");
        await SignInAsync(tab.Page, key);
        await tab.Page.GotoAsync("/console/#/jobs");
        await Expect(tab.Page.GetByTestId("jobs")).Not.ToContainTextAsync("Loading");

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/admin/tenants/{tenant}/keys/{id}")).StatusCode);

        // The jobs page refreshes every few seconds; once every Api instance refuses the key, the tab forgets it.
        await Expect(tab.Page.GetByTestId("sign-in-status")).ToContainTextAsync("refused the key", new() { Timeout = 60_000 });
        Assert.Null(await tab.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('orleans-compute.api-key')"));
    });

    [Fact]
    public Task The_key_s_scopes_apply_to_what_the_console_shows() => InBrowserAsync(async tab =>
    {
        var key = await TenantKeyAsync("[\"jobs\"]");
        await SignInAsync(tab.Page, key);

        await tab.Page.GotoAsync("/console/#/cluster");
        await Expect(tab.Page.GetByTestId("cluster").GetByTestId("error")).ToContainTextAsync("admin");
        await tab.Page.GotoAsync("/console/#/tables");
        await Expect(tab.Page.GetByTestId("tables").GetByTestId("error")).ToContainTextAsync("data:read");
        await tab.Page.GotoAsync("/console/#/jobs");
        await Expect(tab.Page.GetByTestId("jobs")).Not.ToContainTextAsync("Error");
    });

    [Fact]
    public Task A_job_submitted_from_the_console_reaches_succeeded_with_its_result() => InBrowserAsync(async tab =>
    {
        await SignInAsync(tab.Page, TestKeys.Admin);
        await tab.Page.GotoAsync("/console/#/jobs");

        await tab.Page.GetByTestId("submit-kind").SelectOptionAsync("primes");
        await tab.Page.GetByTestId("submit-input").FillAsync("""{"from": 1, "to": 100000, "chunkSize": 10000}""");
        await tab.Page.GetByTestId("submit-button").ClickAsync();

        await Expect(tab.Page).ToHaveURLAsync(JobPage());
        await Expect(tab.Page.GetByTestId("job-status")).ToHaveTextAsync("succeeded", new() { Timeout = JobTimeoutMs });
        await Expect(tab.Page.GetByTestId("job-result")).ToContainTextAsync("\"count\": 9592");
        await Expect(tab.Page.GetByTestId("task-rows").Locator("tbody tr")).ToHaveCountAsync(10);
        await Expect(tab.Page.GetByTestId("task-rows").Locator("[data-status=succeeded]")).ToHaveCountAsync(10);
        await Expect(tab.Page.GetByTestId("tasks-chart").Locator("rect").First).ToBeVisibleAsync();

        var id = JobPage().Match(tab.Page.Url).Groups[1].Value;
        Assert.Equal("succeeded", (await Http.JobAsync(id)).Status());
    });

    [Fact]
    public Task A_failed_job_is_retried_from_its_page() => InBrowserAsync(async tab =>
    {
        var failed = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 2, "milliseconds": 1, "failAttempts": 1}, "retry": {"maxAttempts": 1}}""");
        Assert.Equal("failed", (await Http.WaitForEndAsync(failed)).Status());
        await SignInAsync(tab.Page, TestKeys.Admin);

        await tab.Page.GotoAsync($"/console/#/jobs/{failed}");
        await Expect(tab.Page.GetByTestId("job-status")).ToHaveTextAsync("failed");
        await Expect(tab.Page.GetByTestId("task-rows").Locator(".error-text").First).ToBeVisibleAsync();
        await tab.Page.GetByTestId("retry").ClickAsync();

        await Expect(tab.Page).Not.ToHaveURLAsync(new Regex(Regex.Escape(failed) + "$"));
        await Expect(tab.Page).ToHaveURLAsync(JobPage());
        await Expect(tab.Page.GetByTestId("retry-of")).ToHaveTextAsync(failed);
        var retry = JobPage().Match(tab.Page.Url).Groups[1].Value;
        Assert.Equal(failed, (await Http.JobAsync(retry)).GetProperty("retryOf").GetString());
    });

    [Fact]
    public Task A_running_job_is_paused_resumed_and_cancelled_from_its_page() => InBrowserAsync(async tab =>
    {
        var id = await Http.SubmitAsync(SleepJob(tasks: 40, milliseconds: 3000));
        await SignInAsync(tab.Page, TestKeys.Admin);
        await tab.Page.GotoAsync($"/console/#/jobs/{id}");
        var status = tab.Page.GetByTestId("job-status");
        await Expect(status).ToHaveTextAsync(new Regex("queued|running"));

        // Each status change arrives through the job's event stream, with no reload.
        await tab.Page.GetByTestId("pause").ClickAsync();
        await Expect(status).ToHaveTextAsync("paused");
        await tab.Page.GetByTestId("resume").ClickAsync();
        await Expect(status).ToHaveTextAsync(new Regex("queued|running"));
        await tab.Page.GetByTestId("cancel").ClickAsync();
        await Expect(status).ToHaveTextAsync("cancelled", new() { Timeout = JobTimeoutMs });
        await Expect(tab.Page.GetByTestId("retry")).ToBeVisibleAsync();

        Assert.Equal("cancelled", (await Http.WaitForEndAsync(id)).Status());
    });

    [Fact]
    public Task A_schedule_is_triggered_and_paused_from_the_schedules_page() => InBrowserAsync(async tab =>
    {
        var name = Names.Table("sched");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/schedules/{name}", Json("""{"cron": "0 3 * * *", "job": {"kind": "sleep", "input": {"tasks": 1, "milliseconds": 1}}}"""))).StatusCode);
        await SignInAsync(tab.Page, TestKeys.Admin);
        await tab.Page.GotoAsync("/console/#/schedules");
        var row = tab.Page.GetByTestId("schedule-rows").Locator("tbody tr", new() { HasText = name });
        await Expect(row.Locator("[data-status=active]")).ToBeVisibleAsync();

        await row.GetByTestId("trigger").ClickAsync();
        await Expect(tab.Page.GetByTestId("schedule-runs").GetByTestId("job-link")).ToHaveCountAsync(1);
        await row.GetByTestId("pause").ClickAsync();
        await Expect(row.Locator("[data-status=paused]")).ToBeVisibleAsync();
        await Expect(row.GetByTestId("resume")).ToBeVisibleAsync();

        var schedule = await Http.GetFromJsonAsync<JsonElement>($"/v1/schedules/{name}");
        Assert.True(schedule.GetProperty("paused").GetBoolean());
        var runs = await Http.GetFromJsonAsync<JsonElement>($"/v1/schedules/{name}/runs");
        Assert.Equal(1, runs.GetProperty("items").GetArrayLength());
    });

    [Fact]
    public Task A_table_is_browsed_by_prefix_and_page_and_a_value_with_markup_shows_as_text() => InBrowserAsync(async tab =>
    {
        var table = Names.Table("console");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("{\"shards\": 4}"))).StatusCode);
        await Task.WhenAll(Enumerable.Range(0, 25).Select(i => PutAsync(table, $"a/{i:D2}", $"{{\"n\": {i}}}")));
        const string markup = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
        await PutAsync(table, "b/markup", JsonSerializer.Serialize(new { html = markup }));
        await SignInAsync(tab.Page, TestKeys.Admin);

        await tab.Page.GotoAsync("/console/#/tables");
        await tab.Page.GetByTestId("table-link").GetByText(table, new() { Exact = true }).ClickAsync();
        await Expect(tab.Page.GetByTestId("shard-rows").Locator("tbody tr")).ToHaveCountAsync(4);
        await Expect(tab.Page.GetByTestId("key-count")).ToHaveTextAsync("26");

        await tab.Page.GetByTestId("key-prefix").FillAsync("a/");
        await tab.Page.GetByTestId("key-limit").SelectOptionAsync("10");
        await tab.Page.GetByTestId("key-search").GetByRole(AriaRole.Button).ClickAsync();
        var rows = tab.Page.GetByTestId("key-rows").Locator("tbody tr");
        await Expect(rows).ToHaveCountAsync(10);
        await Expect(rows.First).ToContainTextAsync("a/00");
        await tab.Page.GetByTestId("keys-pager-next").ClickAsync();
        await Expect(rows.First).ToContainTextAsync("a/10");
        await tab.Page.GetByTestId("keys-pager-next").ClickAsync();
        await Expect(rows).ToHaveCountAsync(5);
        await Expect(tab.Page.GetByTestId("keys-pager-next")).ToBeDisabledAsync();
        await tab.Page.GetByTestId("keys-pager-previous").ClickAsync();
        await Expect(rows.First).ToContainTextAsync("a/10");
        await tab.Page.GetByTestId("key-link").GetByText("a/12").ClickAsync();
        await Expect(tab.Page.GetByTestId("viewer-value")).ToContainTextAsync("\"n\": 12");

        await tab.Page.GetByTestId("key-prefix").FillAsync("b/");
        await tab.Page.GetByTestId("key-search").GetByRole(AriaRole.Button).ClickAsync();
        await Expect(rows).ToHaveCountAsync(1);
        await tab.Page.GetByTestId("key-link").GetByText("b/markup").ClickAsync();
        await Expect(tab.Page.GetByTestId("viewer-value")).ToContainTextAsync("<img src=x onerror=");
        await Expect(tab.Page.GetByTestId("viewer-value")).ToContainTextAsync("<script>window.__xss=2</script>");
        Assert.Equal(0, await tab.Page.Locator("main img, main script").CountAsync());
        Assert.True(await tab.Page.EvaluateAsync<bool>("() => window.__xss === undefined"));
    });

    [Fact]
    public async Task The_console_s_files_need_no_key_and_carry_a_strict_content_security_policy()
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.BaseAddress };

        var redirect = await new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fixture.BaseAddress }.GetAsync("/console");
        Assert.Equal("/console/", redirect.Headers.Location?.OriginalString);
        var index = await anonymous.GetAsync("/console/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        var policy = string.Join(";", index.Headers.GetValues("Content-Security-Policy"));
        foreach (var directive in new[] { "default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'" })
        {
            Assert.Contains(directive, policy);
        }

        Assert.DoesNotContain("unsafe-", policy);
        Assert.Equal("nosniff", index.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", index.Headers.GetValues("X-Frame-Options").Single());

        // No inline script or style in the page: every script is a file of this origin.
        var html = await index.Content.ReadAsStringAsync();
        var scripts = ScriptTag().Matches(html);
        Assert.NotEmpty(scripts);
        Assert.All(scripts, s => Assert.Matches("src=\"js/[a-z/]+\\.js\"", s.Value));
        Assert.DoesNotMatch("<script[^>]*>[^<]+</script>", html);
        Assert.DoesNotContain("<style", html);
        Assert.DoesNotMatch("\\s(on[a-z]+|style)=", html);

        // The modules never parse strings as markup.
        var sources = Directory.GetFiles(Path.Combine(Repository.Root, "Api", "WebConsole", "site"), "*.js", SearchOption.AllDirectories);
        Assert.NotEmpty(sources);
        foreach (var source in sources)
        {
            var text = await File.ReadAllTextAsync(source);
            Assert.False(MarkupSink().IsMatch(text), $"{source} uses innerHTML, outerHTML, insertAdjacentHTML, document.write or eval");
            var served = await anonymous.GetAsync("/console/" + Path.GetRelativePath(Path.Combine(Repository.Root, "Api", "WebConsole", "site"), source).Replace('\\', '/'));
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal("text/javascript", served.Content.Headers.ContentType?.MediaType);
            Assert.Contains("default-src 'self'", string.Join(";", served.Headers.GetValues("Content-Security-Policy")));
        }

        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/console/no-such-file.js")).StatusCode);
        // The data calls still need a key.
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/jobs")).StatusCode);
    }

    /// <summary>
    /// Every page with data on it, photographed: the README shows these. Set OC_CONSOLE_SCREENSHOTS
    /// to a folder (docs/images to refresh the README's); otherwise they go to .tmp/console-pages.
    /// No page may log an error (a CSP refusal would be one).
    /// </summary>
    [Fact]
    public Task Every_page_renders_without_errors_and_is_photographed() => InBrowserAsync(async tab =>
    {
        var folder = Environment.GetEnvironmentVariable("OC_CONSOLE_SCREENSHOTS") is { Length: > 0 } set
            ? Path.GetFullPath(set, Repository.Root)
            : Path.Combine(Repository.Root, ".tmp", "console-pages");
        Directory.CreateDirectory(folder);
        var page = tab.Page;
        var table = Names.Table("orders");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/tables/{table}", Json("{\"shards\": 8}"))).StatusCode);
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => PutAsync(table, $"order/{i:D4}", $"{{\"item\": \"book {i}\", \"qty\": {i % 5 + 1}}}")));
        var schedule = Names.Table("nightly");
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/schedules/{schedule}", Json("""{"cron": "0 3 * * *", "job": {"kind": "sleep", "input": {"tasks": 4, "milliseconds": 50}}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PostAsync($"/v1/schedules/{schedule}/trigger", null)).StatusCode);
        var lease = (await (await Http.PostAsync("/v1/leases", Json("{\"ttlSeconds\": 600}"))).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        var lockName = $"locks/{table}";
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync($"/v1/locks/{lockName}", Json($"{{\"lease\": \"{lease}\", \"waitSeconds\": 0}}"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync($"/v1/elections/leader-{table}/campaign", Json($"{{\"lease\": \"{lease}\", \"value\": {{\"node\": \"worker-1\"}}}}"))).StatusCode);
        var jobs = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => Http.SubmitAsync(SleepJob(tasks: 8 + (i * 4), milliseconds: 20 + (i * 30)))));
        var failed = await Http.SubmitAsync("""{"kind": "sleep", "input": {"tasks": 2, "milliseconds": 1, "failAttempts": 1}, "retry": {"maxAttempts": 1}}""");
        var primes = await Http.SubmitAsync("""{"kind": "primes", "input": {"from": 1, "to": 20000000, "chunkSize": 200000}}""");
        foreach (var id in jobs.Append(failed).Append(primes))
        {
            await Http.WaitForEndAsync(id);
        }

        await page.GotoAsync("/console/");
        await Expect(page.GetByTestId("sign-in")).ToBeVisibleAsync();
        await ShotAsync("sign-in");
        await SignInAsync(page, TestKeys.Admin);

        await page.GotoAsync("/console/#/cluster");
        await Expect(page.GetByTestId("silos").Locator("[data-status=Active]")).ToHaveCountAsync(fixture.Cluster.Silos.Count);
        await ShotAsync("cluster");

        await page.GotoAsync("/console/#/jobs");
        await Expect(page.GetByTestId("job-rows").GetByText(primes)).ToBeVisibleAsync();
        await Expect(page.GetByTestId("duration-chart").Locator("rect").First).ToBeVisibleAsync();
        await ShotAsync("jobs");

        await page.GotoAsync($"/console/#/jobs/{primes}");
        await Expect(page.GetByTestId("job-status")).ToHaveTextAsync("succeeded");
        await Expect(page.GetByTestId("tasks-chart").Locator("rect").First).ToBeVisibleAsync();
        await ShotAsync("job");

        await page.GotoAsync($"/console/#/jobs/{failed}");
        await Expect(page.GetByTestId("retry")).ToBeVisibleAsync();
        await ShotAsync("job-failed");

        await page.GotoAsync($"/console/#/schedules?runs={schedule}");
        await Expect(page.GetByTestId("schedule-rows").GetByText(schedule)).ToBeVisibleAsync();
        await Expect(page.GetByTestId("schedule-runs").Locator("tbody tr")).Not.ToHaveCountAsync(0);
        await ShotAsync("schedules");

        await page.GotoAsync($"/console/#/tables/{table}");
        await Expect(page.GetByTestId("shard-rows").Locator("tbody tr")).ToHaveCountAsync(8);
        await page.GetByTestId("key-limit").SelectOptionAsync("10");
        await Expect(page.GetByTestId("key-rows").Locator("tbody tr")).ToHaveCountAsync(10);
        await page.GetByTestId("key-link").GetByText("order/0003").ClickAsync();
        await Expect(page.GetByTestId("viewer-value")).ToContainTextAsync("book 3");
        await ShotAsync("table");

        await page.GotoAsync("/console/#/coordination");
        await Expect(page.GetByTestId("lock-rows").GetByText(lockName)).ToBeVisibleAsync();
        await Expect(page.GetByTestId("election-rows").GetByText($"leader-{table}")).ToBeVisibleAsync();
        await ShotAsync("coordination");

        Assert.Empty(tab.Errors);

        async Task ShotAsync(string name) =>
            await page.ScreenshotAsync(new() { Path = Path.Combine(folder, $"console-{name}.png"), FullPage = true });
    });

    private static string SleepJob(int tasks, int milliseconds) =>
        JsonSerializer.Serialize(new { kind = "sleep", input = new { tasks, milliseconds } });

    private static Regex JobPage() => new(@"#/jobs/([0-9a-f]{20})$");

    [GeneratedRegex("<script[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();

    [GeneratedRegex(@"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(")]
    private static partial Regex MarkupSink();

    private async Task PutAsync(string table, string key, string json)
    {
        var response = await Http.PutAsync($"/v1/tables/{table}/keys/{Uri.EscapeDataString(key)}", Json(json));
        Assert.True(response.IsSuccessStatusCode, $"PUT {key}: {response.StatusCode}");
    }

    private async Task<string> TenantKeyAsync(string scopes) => (await IssueTenantKeyAsync(scopes)).Key;

    private async Task<(string Tenant, string Id, string Key)> IssueTenantKeyAsync(string scopes)
    {
        var tenant = $"t{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsync("/v1/admin/tenants", Json($"{{\"name\": \"{tenant}\"}}"))).StatusCode);
        var issued = await Http.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json($"{{\"name\": \"console\", \"scopes\": {scopes}}}"));
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        var body = await issued.Content.ReadFromJsonAsync<JsonElement>();
        return (tenant, body.GetProperty("id").GetString()!, body.GetProperty("key").GetString()!);
    }

    private static async Task SignInAsync(IPage page, string key)
    {
        if (!page.Url.Contains("/console/", StringComparison.Ordinal))
        {
            await page.GotoAsync("/console/");
        }

        await page.GetByTestId("api-key").FillAsync(key);
        await page.GetByTestId("sign-in-button").ClickAsync();
        if (key == TestKeys.Admin)
        {
            await Expect(page.Locator("#nav")).ToBeVisibleAsync();
        }
    }

    /// <summary>Runs a test in a fresh tab; on failure saves what the page showed to .tmp/console-failures/.</summary>
    private async Task InBrowserAsync(Func<ConsolePage, Task> test, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        await using var tab = await fixture.OpenAsync();
        try
        {
            await test(tab);
        }
        catch
        {
            var folder = Path.Combine(Repository.Root, ".tmp", "console-failures");
            Directory.CreateDirectory(folder);
            await File.WriteAllLinesAsync(Path.Combine(folder, $"{name}.errors.txt"), tab.Errors);
            try
            {
                await tab.Page.ScreenshotAsync(new() { Path = Path.Combine(folder, $"{name}.png"), FullPage = true });
            }
            catch (PlaywrightException)
            {
                // A page that crashed cannot be photographed; the test's own failure is what matters.
            }

            throw;
        }
    }
}
