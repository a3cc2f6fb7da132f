using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace OrleansCompute.Client;

/// <summary>
/// The OrleansCompute REST API, typed. Built on an <see cref="HttpClient"/> whose base address is the
/// Api and which sends the API key (<see cref="Create"/>, or <c>services.AddOrleansComputeClient</c>).
/// Expected absences are values (<c>null</c>, <c>false</c>); every other problem answer is an
/// <see cref="OrleansComputeException"/>.
/// </summary>
public sealed class OrleansComputeClient(HttpClient http)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // Between a broken event stream and the next attempt to reopen it.
    private static readonly TimeSpan ReopenPause = TimeSpan.FromMilliseconds(200);

    /// <summary>A client for the Api at <paramref name="baseAddress"/> acting with <paramref name="apiKey"/>, retrying as <see cref="Retries"/> says.</summary>
    public static OrleansComputeClient Create(Uri baseAddress, string apiKey, HttpMessageHandler? handler = null)
    {
        var client = new HttpClient(Retries.Handler(handler ?? new SocketsHttpHandler()))
        {
            BaseAddress = baseAddress,
            Timeout = Timeout.InfiniteTimeSpan, // event streams stay open; calls take a CancellationToken
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return new OrleansComputeClient(client);
    }

    public HttpClient Http => http;

    // ------------------------------------------------------------ tables

    /// <summary>Creates a table, or returns the identical one that exists; a different one is a 409.</summary>
    public Task<Table> CreateTableAsync(string table, TableOptions? options = null, CancellationToken cancellationToken = default) =>
        SendAsync<Table>(HttpMethod.Put, $"v1/tables/{Segment(table)}", options ?? new TableOptions(), cancellationToken);

    /// <summary>The table, or null when there is none.</summary>
    public Task<Table?> GetTableAsync(string table, CancellationToken cancellationToken = default) =>
        FindAsync<Table>($"v1/tables/{Segment(table)}", cancellationToken);

    /// <summary>Every table, in name order.</summary>
    public IAsyncEnumerable<Table> ListTablesAsync(int pageSize = 100, CancellationToken cancellationToken = default) =>
        PagesAsync<Table>("v1/tables", pageSize, cancellationToken);

    /// <summary>Drops a table with its keys; false when there was none.</summary>
    public Task<bool> DropTableAsync(string table, CancellationToken cancellationToken = default) =>
        DeleteAsync($"v1/tables/{Segment(table)}", null, cancellationToken);

    /// <summary>Starts resharding a table online to <paramref name="shards"/> shards.</summary>
    public Task<Table> ReshardTableAsync(string table, int shards, CancellationToken cancellationToken = default) =>
        SendAsync<Table>(HttpMethod.Patch, $"v1/tables/{Segment(table)}", new { shards }, cancellationToken);

    // ------------------------------------------------------------ keys

    /// <summary>Writes <paramref name="value"/> (any JSON value) under <paramref name="key"/>; a failed condition is a 412 exception.</summary>
    public async Task<KeyVersion> PutAsync(string table, string key, JsonElement value, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PutOptions();
        var path = KeyPath(table, key) + (options.TtlSeconds is { } ttl ? $"?ttlSeconds={ttl.ToString(CultureInfo.InvariantCulture)}" : "");
        using var request = new HttpRequestMessage(HttpMethod.Put, path)
        {
            Content = new StringContent(value.GetRawText(), Encoding.UTF8, "application/json"),
        };
        if (options.IfVersion is { } version)
        {
            request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{version.ToString(CultureInfo.InvariantCulture)}\""));
        }

        if (options.CreateOnly)
        {
            request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Any);
        }

        if (options.Fence is { } fence)
        {
            request.Headers.Add("Fencing-Token", $"{fence.Lock}={fence.Token.ToString(CultureInfo.InvariantCulture)}");
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var written = await ReadAsync<KeyVersion>(response, cancellationToken).ConfigureAwait(false);
        return written with { Created = response.StatusCode == HttpStatusCode.Created };
    }

    /// <summary>Writes <paramref name="value"/>, serialized as JSON.</summary>
    public Task<KeyVersion> PutAsync<T>(string table, string key, T value, PutOptions? options = null, CancellationToken cancellationToken = default) =>
        PutAsync(table, key, JsonSerializer.SerializeToElement(value, Json), options, cancellationToken);

    /// <summary>The key's value and version, or null when it is absent or expired.</summary>
    public async Task<KeyEntry?> GetAsync(string table, string key, CancellationToken cancellationToken = default)
    {
        using var response = await http.GetAsync(KeyPath(table, key), cancellationToken).ConfigureAwait(false);
        // A missing key is an expected absence; a missing table is an error.
        if (response.StatusCode == HttpStatusCode.NotFound
            && (await ReadProblemAsync(response, cancellationToken).ConfigureAwait(false))?.Title != "Table not found")
        {
            return null;
        }

        var value = await ReadAsync<JsonElement>(response, cancellationToken).ConfigureAwait(false);
        return new KeyEntry(key, value, ParseVersion(response.Headers.ETag));
    }

    /// <summary>Deletes a key, only at <paramref name="ifVersion"/> when given; false when it was absent.</summary>
    public Task<bool> DeleteAsync(string table, string key, long? ifVersion = null, CancellationToken cancellationToken = default) =>
        DeleteAsync(KeyPath(table, key), ifVersion, cancellationToken);

    /// <summary>The live keys starting with <paramref name="prefix"/>, in ordinal order across all shards, page after page.</summary>
    public IAsyncEnumerable<KeyEntry> ScanAsync(string table, string? prefix = null, int pageSize = 100, CancellationToken cancellationToken = default) =>
        PagesAsync<KeyEntry>($"v1/tables/{Segment(table)}/keys" + (prefix is null ? "" : $"?prefix={Uri.EscapeDataString(prefix)}"), pageSize, cancellationToken);

    /// <summary>Runs the operations in order, each on its own (not atomic).</summary>
    public async Task<IReadOnlyList<BatchResult>> BatchAsync(string table, IEnumerable<BatchOp> ops, CancellationToken cancellationToken = default) =>
        (await SendAsync<BatchAnswer>(HttpMethod.Post, $"v1/tables/{Segment(table)}/batch", new { ops }, cancellationToken).ConfigureAwait(false)).Results;

    /// <summary>Runs a transaction across transactional tables.</summary>
    public Task<TxnResult> TransactAsync(TxnRequest txn, CancellationToken cancellationToken = default) =>
        SendAsync<TxnResult>(HttpMethod.Post, "v1/txn", txn, cancellationToken);

    // ------------------------------------------------------------ jobs

    /// <summary>Submits a job. With an <paramref name="idempotencyKey"/> a repeated submission returns the same job, and the SDK may retry it.</summary>
    public async Task<JobAccepted> SubmitJobAsync(JobSpec spec, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/jobs") { Content = JsonContent.Create(spec, options: Json) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<JobAccepted>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The job, or null when there is none.</summary>
    public Task<Job?> GetJobAsync(string id, CancellationToken cancellationToken = default) =>
        FindAsync<Job>($"v1/jobs/{Segment(id)}", cancellationToken);

    /// <summary>The tenant's jobs, newest first, optionally of one status.</summary>
    public IAsyncEnumerable<JobSummary> ListJobsAsync(string? status = null, int pageSize = 100, CancellationToken cancellationToken = default) =>
        ListJobsAsync(new JobFilter(Status: status), pageSize, cancellationToken);

    /// <summary>The tenant's jobs that pass every filter given, newest first.</summary>
    public IAsyncEnumerable<JobSummary> ListJobsAsync(JobFilter filter, int pageSize = 100, CancellationToken cancellationToken = default) =>
        PagesAsync<JobSummary>("v1/jobs" + filter.ToQuery(), pageSize, cancellationToken);

    /// <summary>
    /// Runs a failed or cancelled job again: a new job with the same spec whose <see cref="Job.RetryOf"/>
    /// names the old one. Every retry of one job answers the same new job, so this is safe to repeat.
    /// </summary>
    public Task<JobAccepted> RetryJobAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<JobAccepted>(HttpMethod.Post, $"v1/jobs/{Segment(id)}/retry", null, cancellationToken);

    /// <summary>Deletes an ended job; false when there is none. An active job is a 409 <see cref="OrleansComputeException"/>.</summary>
    public Task<bool> DeleteJobAsync(string id, CancellationToken cancellationToken = default) =>
        DeleteAsync($"v1/jobs/{Segment(id)}", null, cancellationToken);

    /// <summary>The job's tasks in index order.</summary>
    public IAsyncEnumerable<JobTask> ListTasksAsync(string id, int pageSize = 100, CancellationToken cancellationToken = default) =>
        PagesAsync<JobTask>($"v1/jobs/{Segment(id)}/tasks", pageSize, cancellationToken);

    public Task<Job> CancelJobAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<Job>(HttpMethod.Post, $"v1/jobs/{Segment(id)}/cancel", null, cancellationToken);

    public Task<Job> PauseJobAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<Job>(HttpMethod.Post, $"v1/jobs/{Segment(id)}/pause", null, cancellationToken);

    public Task<Job> ResumeJobAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<Job>(HttpMethod.Post, $"v1/jobs/{Segment(id)}/resume", null, cancellationToken);

    /// <summary>
    /// The job as it changes, from its Server-Sent Events: the current state first, then every change,
    /// ending with the finished job. A stream the server closes early, or that breaks (an Api
    /// instance going away), is reopened; its first event is the job as it is then.
    /// </summary>
    public async IAsyncEnumerable<Job> FollowJobAsync(string id, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var followed = false;
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/jobs/{Segment(id)}/events");
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException) when (followed)
            {
                await Task.Delay(ReopenPause, cancellationToken).ConfigureAwait(false);
                continue;
            }

            using (response)
            {
                await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
                followed = true;
                await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                var events = SseParser.Create(stream, (type, data) => JsonSerializer.Deserialize<Job>(data, Json)!).EnumerateAsync(cancellationToken);
                await using var enumerator = events.GetAsyncEnumerator(cancellationToken);
                while (true)
                {
                    Job next;
                    try
                    {
                        if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }

                        next = enumerator.Current.Data;
                    }
                    catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                    {
                        break; // broken: reopen
                    }

                    yield return next;
                    if (next.IsFinished)
                    {
                        yield break;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Watches a table's keys under <paramref name="prefix"/> (SPEC §4.4): every put and delete, and a
    /// <c>progress</c> event now and then, each with <see cref="WatchEvent.Cursor"/>. Starts at
    /// <paramref name="cursor"/> (a cursor this method gave before), else at <paramref name="fromRevision"/>,
    /// else now. A stream the server closes or that breaks is reopened from the last cursor, so
    /// nothing is seen twice or missed; a compacted cursor throws (410).
    /// </summary>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(
        string table, string? prefix = null, string? cursor = null, long? fromRevision = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var query = $"v1/tables/{Segment(table)}/watch?prefix={Uri.EscapeDataString(prefix ?? "")}"
                + (cursor is null && fromRevision is { } from ? $"&fromRevision={from}" : "");
            using var request = new HttpRequestMessage(HttpMethod.Get, query);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            if (cursor is not null)
            {
                request.Headers.TryAddWithoutValidation("Last-Event-ID", cursor);
            }

            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException) when (cursor is not null)
            {
                await Task.Delay(ReopenPause, cancellationToken).ConfigureAwait(false);
                continue;
            }

            using (response)
            {
                await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
                var events = new List<WatchEvent>();
                var enumerator = ReadWatchAsync(response, cancellationToken).GetAsyncEnumerator(cancellationToken);
                try
                {
                    while (true)
                    {
                        WatchEvent next;
                        try
                        {
                            if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                            {
                                break;
                            }

                            next = enumerator.Current;
                        }
                        catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                        {
                            break; // broken: reopen from the last cursor
                        }

                        if (next.Type is "dropped" or "compacted")
                        {
                            yield return next;
                            yield break;
                        }

                        cursor = next.Cursor ?? cursor;
                        yield return next;
                    }
                }
                finally
                {
                    await enumerator.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private static async IAsyncEnumerable<WatchEvent> ReadWatchAsync(HttpResponseMessage response, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var parser = SseParser.Create(stream, (type, data) => JsonDocument.Parse(data.ToArray()).RootElement.Clone());
        await foreach (var item in parser.EnumerateAsync(cancellationToken).ConfigureAwait(false))
        {
            var data = item.Data;
            var cursor = string.IsNullOrEmpty(item.EventId) ? null : item.EventId;
            yield return item.EventType is "put" or "delete"
                ? new WatchEvent(item.EventType, data.GetProperty("key").GetString(), data.GetProperty("value").Clone(),
                    data.GetProperty("version").GetInt64(), data.GetProperty("revision").GetInt64(), cursor)
                : new WatchEvent(item.EventType, null, data, 0, 0, cursor);
        }
    }

    /// <summary>Waits until the job finished, and returns it.</summary>
    public async Task<Job> WaitForJobAsync(string id, CancellationToken cancellationToken = default)
    {
        await foreach (var job in FollowJobAsync(id, cancellationToken).ConfigureAwait(false))
        {
            if (job.IsFinished)
            {
                return job;
            }
        }

        throw new InvalidOperationException("The event stream ended before the job did.");
    }

    /// <summary>Every task kind the cluster runs.</summary>
    public IAsyncEnumerable<TaskKind> ListTaskKindsAsync(CancellationToken cancellationToken = default) =>
        PagesAsync<TaskKind>("v1/task-kinds", Page, cancellationToken);

    // ------------------------------------------------------------ schedules

    public Task<Schedule> PutScheduleAsync(string name, ScheduleSpec schedule, CancellationToken cancellationToken = default) =>
        SendAsync<Schedule>(HttpMethod.Put, $"v1/schedules/{Segment(name)}", schedule, cancellationToken);

    public Task<Schedule?> GetScheduleAsync(string name, CancellationToken cancellationToken = default) =>
        FindAsync<Schedule>($"v1/schedules/{Segment(name)}", cancellationToken);

    public IAsyncEnumerable<Schedule> ListSchedulesAsync(int pageSize = 100, CancellationToken cancellationToken = default) =>
        PagesAsync<Schedule>("v1/schedules", pageSize, cancellationToken);

    public Task<bool> DeleteScheduleAsync(string name, CancellationToken cancellationToken = default) =>
        DeleteAsync($"v1/schedules/{Segment(name)}", null, cancellationToken);

    public Task<Schedule> PauseScheduleAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<Schedule>(HttpMethod.Post, $"v1/schedules/{Segment(name)}/pause", null, cancellationToken);

    /// <summary>Runs the schedule's job now, once (paused or not); its cron occurrences stay as they were.</summary>
    public Task<JobAccepted> TriggerScheduleAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<JobAccepted>(HttpMethod.Post, $"v1/schedules/{Segment(name)}/trigger", null, cancellationToken);

    /// <summary>The jobs the schedule submitted (cron runs and triggers), newest first.</summary>
    public IAsyncEnumerable<JobSummary> ListScheduleRunsAsync(string name, int pageSize = 100, CancellationToken cancellationToken = default) =>
        PagesAsync<JobSummary>($"v1/schedules/{Segment(name)}/runs", pageSize, cancellationToken);

    public Task<Schedule> ResumeScheduleAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<Schedule>(HttpMethod.Post, $"v1/schedules/{Segment(name)}/resume", null, cancellationToken);

    // ------------------------------------------------------------ admin and cluster

    public Task<Tenant> CreateTenantAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<Tenant>(HttpMethod.Post, "v1/admin/tenants", new { name }, cancellationToken);

    public IAsyncEnumerable<Tenant> ListTenantsAsync(int pageSize = 100, CancellationToken cancellationToken = default) =>
        PagesAsync<Tenant>("v1/admin/tenants", pageSize, cancellationToken);

    /// <summary>Issues a key of <paramref name="tenant"/>; its secret is in the answer only.</summary>
    public Task<IssuedKey> IssueKeyAsync(string tenant, string name, IEnumerable<string> scopes, CancellationToken cancellationToken = default) =>
        SendAsync<IssuedKey>(HttpMethod.Post, $"v1/admin/tenants/{Segment(tenant)}/keys", new { name, scopes }, cancellationToken);

    public IAsyncEnumerable<ApiKeyInfo> ListKeysAsync(string tenant, CancellationToken cancellationToken = default) =>
        PagesAsync<ApiKeyInfo>($"v1/admin/tenants/{Segment(tenant)}/keys", Page, cancellationToken);

    public Task<bool> RevokeKeyAsync(string tenant, string id, CancellationToken cancellationToken = default) =>
        DeleteAsync($"v1/admin/tenants/{Segment(tenant)}/keys/{Segment(id)}", null, cancellationToken);

    public Task<ClusterInfo> GetClusterAsync(CancellationToken cancellationToken = default) =>
        SendAsync<ClusterInfo>(HttpMethod.Get, "v1/cluster", null, cancellationToken);

    // ------------------------------------------------------------ plumbing

    // Lists that do not page yet answer everything in one page; the cursor loop handles both.
    private const int Page = 1000;

    private static string Segment(string value) => Uri.EscapeDataString(value);

    // Every character of a key but the unreserved ones is escaped, '/' included: the Api decodes the
    // path segment once, so a key means the same whichever way its characters are encoded.
    private static string KeyPath(string table, string key) => $"v1/tables/{Segment(table)}/keys/{Segment(key)}";

    private async IAsyncEnumerable<T> PagesAsync<T>(string path, int pageSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? after = null;
        do
        {
            var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
            var url = $"{path}{separator}limit={pageSize.ToString(CultureInfo.InvariantCulture)}" + (after is null ? "" : $"&after={Uri.EscapeDataString(after)}");
            var page = await SendAsync<Page<T>>(HttpMethod.Get, url, null, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items)
            {
                yield return item;
            }

            after = page.Next;
        }
        while (after is not null);
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: Json);
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<T?> FindAsync<T>(string path, CancellationToken cancellationToken)
        where T : class
    {
        using var response = await http.GetAsync(path, cancellationToken).ConfigureAwait(false);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> DeleteAsync(string path, long? ifVersion, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, path);
        if (ifVersion is { } version)
        {
            request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{version.ToString(CultureInfo.InvariantCulture)}\""));
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"The Api answered {(int)response.StatusCode} with an empty body.");
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var problem = await ReadProblemAsync(response, cancellationToken).ConfigureAwait(false);
        var retryAfter = response.Headers.RetryAfter is { } header
            ? header.Delta ?? (header.Date is { } date ? date - DateTimeOffset.UtcNow : null)
            : null;
        throw new OrleansComputeException(
            response.StatusCode, problem?.Type, problem?.Title ?? response.ReasonPhrase, problem?.Detail,
            problem?.Errors ?? new Dictionary<string, string[]>(), problem?.TraceId, retryAfter);
    }

    private static async Task<ProblemBody?> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return text.Length == 0 ? null : JsonSerializer.Deserialize<ProblemBody>(text, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static long ParseVersion(EntityTagHeaderValue? etag) =>
        etag is not null && long.TryParse(etag.Tag.Trim('"'), NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : 0;

    private sealed record ProblemBody(string? Type, string? Title, string? Detail, Dictionary<string, string[]>? Errors, string? TraceId);

    private sealed record BatchAnswer(IReadOnlyList<BatchResult> Results);
}
