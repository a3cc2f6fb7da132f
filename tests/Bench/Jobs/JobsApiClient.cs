using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansCompute.Bench.Workloads;

namespace OrleansCompute.Bench.Jobs;

/// <summary>A job as <c>GET /v1/jobs/{id}</c> shows it, reduced to what the harness reads.</summary>
public sealed record JobState(string Id, string Status, long Total, long Succeeded, long Failed, JsonNode? Result, string? Error)
{
    public DateTimeOffset? CreatedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    public bool IsFinished => Status is "succeeded" or "failed" or "cancelled";

    /// <summary>createdAt to finishedAt as the cluster recorded them: the wall time without HTTP and polling.</summary>
    public double? ServerSeconds => FinishedAt - CreatedAt is { } span ? span.TotalSeconds : null;
}

/// <summary>Submits jobs to the Api (SPEC §4.3) and waits for them to finish.</summary>
public sealed class JobsApiClient(HttpClient client)
{
    // Short enough that the wall time of a job of a few seconds is not rounded up by much;
    // a GET of a job reads grain state, not PostgreSQL, so polling adds no commits.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Active silos as <c>GET /v1/cluster</c> lists them, so a figure says what it ran on.</summary>
    public async Task<int> ActiveSilosAsync(CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(new Uri("/v1/cluster", UriKind.Relative), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new BenchSkipException($"jobs: GET /v1/cluster answered {await BenchHttp.DescribeFailureAsync(response, cancellationToken)}");
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(cancellationToken));
        return document.RootElement.GetProperty("silos").EnumerateArray()
            .Count(silo => silo.GetProperty("status").GetString() == "Active");
    }

    /// <summary>POST /v1/jobs; returns the id. A refusal (404 without the jobs API, 400, 429) skips the workload with the reason.</summary>
    public async Task<string> SubmitAsync(string kind, JsonObject input, int parallelism, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["kind"] = kind, ["input"] = input, ["parallelism"] = parallelism };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/jobs", UriKind.Relative))
        {
            Content = BenchHttp.Json(JsonSerializer.SerializeToUtf8Bytes(body)),
        };
        using var response = await client.SendAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw new BenchSkipException($"jobs: POST /v1/jobs ({kind}) answered {await BenchHttp.DescribeFailureAsync(response, cancellationToken)}");
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(cancellationToken));
        return document.RootElement.GetProperty("id").GetString()!;
    }

    public async Task<JobState> GetAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(new Uri($"/v1/jobs/{Uri.EscapeDataString(id)}", UriKind.Relative), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET /v1/jobs/{id} answered {await BenchHttp.DescribeFailureAsync(response, cancellationToken)}");
        }

        var job = (await JsonNode.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken))!;
        var progress = job["progress"];
        return new JobState(
            id,
            job["status"]!.GetValue<string>(),
            progress?["total"]?.GetValue<long>() ?? 0,
            progress?["succeeded"]?.GetValue<long>() ?? 0,
            progress?["failed"]?.GetValue<long>() ?? 0,
            job["result"]?.DeepClone(),
            job["error"]?.ToJsonString())
        {
            CreatedAt = job["createdAt"]?.GetValue<DateTimeOffset>(),
            FinishedAt = job["finishedAt"]?.GetValue<DateTimeOffset>(),
        };
    }

    /// <summary>Polls until the job ends or <paramref name="timeout"/> passes; <paramref name="onProgress"/> sees every poll.</summary>
    public async Task<JobState> WaitAsync(string id, TimeSpan timeout, Action<JobState> onProgress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var state = await GetAsync(id, cancellationToken);
            onProgress(state);
            if (state.IsFinished)
            {
                return state;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"job {id} still {state.Status} after {timeout.TotalSeconds:0} s ({state.Succeeded:N0}/{state.Total:N0} tasks succeeded)");
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    /// <summary>Best effort, for a job left behind by an interrupted or timed-out run.</summary>
    public async Task CancelAsync(string id)
    {
        try
        {
            using var response = await client.PostAsync(new Uri($"/v1/jobs/{Uri.EscapeDataString(id)}/cancel", UriKind.Relative), null);
        }
        catch (HttpRequestException)
        {
        }
    }
}
