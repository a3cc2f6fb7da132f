using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using OrleansCompute.Tests.Faults.Harness;

namespace OrleansCompute.Tests.Faults.Workloads;

/// <summary>
/// Jobs with a known answer: primes in [1, 20000] in 8 tasks is 2262. Each submitted job is read
/// until it ends (also after its phase, see <see cref="DrainAsync"/>), then its tasks are read,
/// so the checker can hold the result exact and no task counted twice.
/// </summary>
public sealed class JobWorkload(History history, HttpClient http, int seed) : Workload(history, http, seed)
{
    public const long ExpectedCount = 2262;
    private readonly ConcurrentDictionary<string, (int Phase, int Client)> _open = new();

    public override string Name => "jobs";

    public override int Clients => 2;

    private static string Resource(int phase) => $"p{phase}-jobs";

    private static JsonObject Spec => new()
    {
        ["kind"] = "primes",
        ["input"] = new JsonObject { ["from"] = 1, ["to"] = 20000, ["chunkSize"] = 2500 },
        ["retry"] = new JsonObject { ["maxAttempts"] = 5, ["backoffSeconds"] = 1 },
        ["timeoutSeconds"] = 30,
        ["parallelism"] = 8,
    };

    public override Task SetUpAsync(int phase, CancellationToken cancel) => Task.CompletedTask;

    public override async Task RunClientAsync(int phase, int client, CancellationToken stop)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var idempotency = $"faults-{Seed}-p{phase}-c{client}-{n}";
            var submit = Begin(new Op { Kind = "job.submit", Workload = Name, Phase = phase, Process = client, Resource = Resource(phase), JobKind = "primes", Expected = new JsonObject { ["count"] = ExpectedCount }, Invoke = History.Now });
            var answer = await SendAsync(HttpMethod.Post, "/v1/jobs", Spec, stop, h => h.Add("Idempotency-Key", idempotency));
            submit.JobId = answer.Status == 202 ? answer.Body?["id"]?.GetValue<string>() : null;
            Finish(submit, answer);
            if (submit.JobId is null)
            {
                await PauseAsync(300, stop);
                continue;
            }

            _open[submit.JobId] = (phase, client);
            await FollowAsync(submit.JobId, phase, client, stop);
        }
    }

    // The service says "attempts"; the checkers' task record calls the attempt count "attempt".
    private static JsonObject AsTaskRecord(JsonObject task)
    {
        var copy = (JsonObject)task.DeepClone();
        if (!copy.ContainsKey("attempt") && copy["attempts"] is { } attempts)
        {
            copy["attempt"] = attempts.DeepClone();
        }

        return copy;
    }

    /// <summary>Reads every job still open to its end, past the phase's end, for at most <paramref name="patience"/>.</summary>
    public override async Task DrainAsync(TimeSpan patience)
    {
        using var cancel = new CancellationTokenSource(patience);
        await Task.WhenAll(_open.Select(j => FollowAsync(j.Key, j.Value.Phase, j.Value.Client, cancel.Token)));
    }

    private async Task FollowAsync(string id, int phase, int client, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var poll = Begin(new Op { Kind = "job.result", Workload = Name, Phase = phase, Process = client, Resource = Resource(phase), JobId = id, JobKind = "primes", Expected = new JsonObject { ["count"] = ExpectedCount }, Invoke = History.Now });
            var answer = await SendAsync(HttpMethod.Get, $"/v1/jobs/{id}", null, stop);
            var status = answer.Status == 200 ? answer.Body?["status"]?.GetValue<string>() : null;
            poll.JobStatus = status;
            poll.JobOutput = status is "succeeded" or "failed" or "cancelled" ? answer.Body?["result"]?.DeepClone() : null;
            Finish(poll, answer);
            if (status is "succeeded" or "failed" or "cancelled")
            {
                var tasks = Begin(new Op { Kind = "job.tasks", Workload = Name, Phase = phase, Process = client, Resource = Resource(phase), JobId = id, Invoke = History.Now });
                var list = await SendAsync(HttpMethod.Get, $"/v1/jobs/{id}/tasks", null, stop);
                var items = list.Body is JsonObject page ? page["items"] : list.Body;
                tasks.Tasks = items is JsonArray array ? [.. array.OfType<JsonObject>().Select(AsTaskRecord)] : null;
                Finish(tasks, list);
                if (list.Status == 200)
                {
                    _open.TryRemove(id, out _);
                    return;
                }
            }

            await PauseAsync(400, stop);
        }
    }
}
