using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Observability;

/// <summary>
/// A silo and the Api as separate processes, configured the way an operator who follows
/// docs/observability.md would: JSON logs, metrics on their own port. A workload that touches
/// every family of metrics runs once (key-value, transactions, jobs with a retry, a schedule, an
/// API key issued), so the tests read real scrapes and real logs.
/// </summary>
public sealed class ObservedCluster : IAsyncLifetime
{
    /// <summary>A value written by the workload: it must appear in no log line and no metric.</summary>
    public const string SecretValue = "value-that-must-never-be-logged-4711";

    /// <summary>A key name written by the workload: it must appear in no metric label.</summary>
    public const string SecretKey = "key-that-must-never-be-a-label-0815";

    /// <summary>The password in the connection string (PostgreSQL trusts loopback, so any password works).</summary>
    public const string DatabasePassword = "pg-password-never-logged-9z";

    private SiloNode? _silo;

    public NodeProcess Api { get; private set; } = null!;

    public SiloNode Silo => _silo!;

    public int ApiPort { get; private set; }

    public int MetricsPort { get; private set; }

    /// <summary>An API key issued through the admin API during the workload.</summary>
    public string IssuedKey { get; private set; } = "";

    public string ApiScrape { get; private set; } = "";

    public string SiloScrape { get; private set; } = "";

    /// <summary>The families every scrape must have once the workload ran.</summary>
    public static readonly string[] ApiFamilies =
    [
        "oc_kv_requests_total", "oc_kv_request_duration_seconds", "oc_transactions_total",
        "http_server_request_duration_seconds", "orleans_client_connected_gateways",
        "process_cpu_time_seconds_total", "process_memory_usage_bytes", "dotnet_gc_collections_total",
    ];

    public static readonly string[] SiloFamilies =
    [
        "oc_kv_keys", "oc_kv_value_bytes", "oc_kv_commit_duration_seconds", "oc_kv_lease_renewals_total", "oc_kv_shard_opens_total",
        "oc_shards_hosted", "oc_task_runs_total", "oc_task_duration_seconds", "oc_task_queue_wait_seconds", "oc_task_retries_total",
        "oc_jobs_entered_total", "oc_schedule_fires_total", "oc_schedule_lag_seconds",
        "db_client_connections", "db_client_connection_max", "db_client_operation_duration_seconds",
        "orleans_app_requests_latency_seconds", "orleans_catalog_activations", "orleans_messaging_sent_messages_size_bytes",
        "process_cpu_time_seconds_total", "dotnet_gc_collections_total",
    ];

    public async Task InitializeAsync()
    {
        var database = new NpgsqlConnectionStringBuilder(await TestDatabase.CreateAsync("observe")) { Password = DatabasePassword }.ConnectionString;
        var common = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["Orleans__ClusterId"] = $"observe-{Guid.NewGuid():N}",
            ["Logging__Format"] = "json",
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Information",
            ["Auth__AdminKey"] = TestKeys.Admin,
        };
        _silo = SiloNode.Start(common);
        ApiPort = Ports.Free();
        MetricsPort = Ports.Free();
        Api = NodeProcess.Start("api-observed", Repository.Binary("Api", "OrleansCompute.Api.dll"), new Dictionary<string, string>(common)
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ApiPort}",
            ["Metrics__Port"] = MetricsPort.ToString(),
            ["RateLimit__RequestsPerSecond"] = "100000",
        });
        await _silo.WaitReadyAsync();
        using var http = Client(TestKeys.Admin);
        await Eventually.WaitAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(90), "the Api ready");
        await RunWorkloadAsync(http);
    }

    public HttpClient Client(string? key)
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ApiPort}"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = key is null ? null : new("Bearer", key);
        return http;
    }

    public async Task<string> ScrapeApiAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync($"http://127.0.0.1:{MetricsPort}/metrics");
    }

    public async Task<string> ScrapeSiloAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync($"http://127.0.0.1:{Silo.HealthPort}/metrics");
    }

    /// <summary>Every sample name (what a PromQL selector names) in a scrape.</summary>
    public static HashSet<string> SampleNames(string scrape) =>
        [.. scrape.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line[..line.IndexOfAny(['{', ' '])])];

    /// <summary>The metric family names (# TYPE lines) in a scrape.</summary>
    public static HashSet<string> Families(string scrape) =>
        [.. scrape.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2])];

    private async Task RunWorkloadAsync(HttpClient http)
    {
        var table = Names.Table("obs");
        Check(await http.PutAsync($"/v1/tables/{table}", null), HttpStatusCode.Created);
        Check(await http.PutAsync($"/v1/tables/{table}/keys/{SecretKey}", new StringContent($"\"{SecretValue}\"", Encoding.UTF8, "application/json")), HttpStatusCode.Created);
        Check(await http.GetAsync($"/v1/tables/{table}/keys/{SecretKey}"), HttpStatusCode.OK);
        Check(await http.GetAsync($"/v1/tables/{table}/keys?prefix=key"), HttpStatusCode.OK);

        var bank = Names.Table("bank");
        Check(await http.PutAsJsonAsync($"/v1/tables/{bank}", new { transactional = true, shards = 2 }), HttpStatusCode.Created);
        Check(await http.PostAsync("/v1/txn", Json($$"""{"success":[{"op":"put","table":"{{bank}}","key":"alice","value":100}]}""")), HttpStatusCode.OK);

        // One task fails its first attempt: a retry, then success.
        var job = await http.PostAsync("/v1/jobs", Json("""{"kind":"sleep","input":{"tasks":2,"milliseconds":5,"failAttempts":1},"retry":{"maxAttempts":3,"backoffSeconds":1}}"""));
        Check(job, HttpStatusCode.Accepted);
        var jobId = (await job.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        await Eventually.WaitAsync(async () =>
            (await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{jobId}")).GetProperty("status").GetString() == "succeeded",
            TimeSpan.FromSeconds(60), "the job to succeed");

        var schedule = Names.Table("every");
        Check(await http.PutAsync($"/v1/schedules/{schedule}", Json("""{"cron":"* * * * * *","timeZone":"UTC","job":{"kind":"sleep","input":{"tasks":1,"milliseconds":1}}}""")), HttpStatusCode.Created, HttpStatusCode.OK);

        var tenant = Names.Table("ten");
        Check(await http.PostAsJsonAsync("/v1/admin/tenants", new { name = tenant }), HttpStatusCode.Created);
        var issued = await http.PostAsJsonAsync($"/v1/admin/tenants/{tenant}/keys", new { name = "observer", scopes = new[] { "data:read" } });
        Check(issued, HttpStatusCode.Created);
        IssuedKey = (await issued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        using (var tenantClient = Client(IssuedKey))
        {
            await tenantClient.GetAsync("/v1/tables");
        }

        // Wait until a schedule fired and every family the tests expect is in the scrapes.
        var clock = Stopwatch.StartNew();
        await Eventually.WaitAsync(async () =>
        {
            ApiScrape = await ScrapeApiAsync();
            SiloScrape = await ScrapeSiloAsync();
            return ApiFamilies.All(Families(ApiScrape).Contains) && SiloFamilies.All(Families(SiloScrape).Contains);
        }, TimeSpan.FromSeconds(60), "every expected metric family in the scrapes");
        Check(await http.PostAsync($"/v1/schedules/{schedule}/pause", null), HttpStatusCode.OK, HttpStatusCode.NoContent);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static void Check(HttpResponseMessage response, params HttpStatusCode[] expected)
    {
        if (!expected.Contains(response.StatusCode))
        {
            throw new InvalidOperationException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: {(int)response.StatusCode} {response.Content.ReadAsStringAsync().Result}");
        }
    }

    public async Task DisposeAsync()
    {
        if (Api is not null)
        {
            Api.SaveLog("observability");
            await Api.DisposeAsync();
        }

        if (_silo is not null)
        {
            _silo.Process.SaveLog("observability");
            await _silo.Process.DisposeAsync();
        }
    }
}
