using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using OrleansCompute.Tests.Faults.Harness;

namespace OrleansCompute.Tests.Faults.Workloads;

/// <summary>What an HTTP call came back with; Status null when no answer came (timeout, cut connection).</summary>
public sealed record Answer(int? Status, string? ProblemType, JsonNode? Body, HttpResponseHeaders? Headers, string? Error)
{
    public long? ETagVersion =>
        Headers?.ETag?.Tag is { } tag && long.TryParse(tag.Trim('"'), out var v) ? v : null;
}

/// <summary>
/// A workload: clients that call the REST API in a loop and record every call in the history.
/// Each fault phase gets fresh keys, locks and jobs (names prefixed with the phase), so every
/// phase's history is checked on its own and one phase's anomaly cannot hide in another's.
/// </summary>
public abstract class Workload(History history, HttpClient http, int seed)
{
    protected History History { get; } = history;

    protected HttpClient Http { get; } = http;

    protected int Seed { get; } = seed;

    public abstract string Name { get; }

    public virtual int Clients => 3;

    /// <summary>Prepares the phase's resources before its fault starts; retried until it answers.</summary>
    public abstract Task SetUpAsync(int phase, CancellationToken cancel);

    /// <summary>One client's loop; returns when <paramref name="stop"/> fires (an unanswered call is then recorded as unknown).</summary>
    public abstract Task RunClientAsync(int phase, int client, CancellationToken stop);

    /// <summary>Work still under way after the phase stopped (jobs that must still be read to their end).</summary>
    public virtual Task DrainAsync(TimeSpan patience) => Task.CompletedTask;

    protected Random RandomFor(int phase, int client) => new(HashCode.Combine(Seed, Name, phase, client) & int.MaxValue);

    protected Op Begin(Op op)
    {
        History.Add(op);
        return op;
    }

    protected async Task<Answer> SendAsync(HttpMethod method, string path, JsonNode? body, CancellationToken cancel, Action<HttpRequestHeaders>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        headers?.Invoke(request.Headers);
        try
        {
            using var response = await Http.SendAsync(request, cancel);
            var text = await response.Content.ReadAsStringAsync(cancel);
            JsonNode? parsed = null;
            try
            {
                parsed = text.Length > 0 ? JsonNode.Parse(text) : null;
            }
            catch (System.Text.Json.JsonException)
            {
                parsed = JsonValue.Create(text);
            }

            var type = response.Content.Headers.ContentType?.MediaType == "application/problem+json" ? parsed?["type"]?.GetValue<string>() : null;
            return new Answer((int)response.StatusCode, type, parsed, response.Headers, type);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException or IOException)
        {
            return new Answer(null, null, null, null, e.GetType().Name + ": " + e.Message);
        }
    }

    /// <summary>Records the answer's status and outcome on the op.</summary>
    protected void Finish(Op op, Answer answer, params int[] observations)
    {
        op.Status = answer.Status;
        op.Error = answer.Status is >= 200 and < 300 ? null : answer.Error;
        History.End(op, Outcomes.Classify(answer.Status, answer.ProblemType, observations));
    }

    /// <summary>A short wait between calls, so an outage does not spin; it ends early when the phase stops.</summary>
    protected static async Task PauseAsync(int milliseconds, CancellationToken stop)
    {
        try
        {
            await Task.Delay(milliseconds, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Retries a set-up call until it succeeds (before the fault, the cluster should answer).</summary>
    protected static async Task UntilAsync(Func<Task<bool>> attempt, CancellationToken cancel, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!await attempt())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"set-up never succeeded: {what}");
            }

            await Task.Delay(500, cancel);
        }
    }
}
