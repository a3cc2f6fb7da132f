using System.Text.Json.Nodes;
using OrleansCompute.Faults.Checkers;
using OrleansCompute.Tests.Faults.Harness;
using History = OrleansCompute.Tests.Faults.Harness.History;
using HarnessOp = OrleansCompute.Tests.Faults.Harness.Op;
using Outcomes = OrleansCompute.Tests.Faults.Harness.Outcomes;

namespace OrleansCompute.Tests.Faults.Workloads;

/// <summary>
/// Watch streams on the KV workload's keys (<c>GET /v1/tables/faultkv/watch?prefix=p{phase}-k</c>),
/// open while that workload writes. Each connection is dropped by the client after a few seconds
/// (and whenever the fault cuts it) and resumed with <c>Last-Event-ID</c> set to the id of the last
/// event received, so every phase resumes many times, under its fault too. Every connection is a
/// <c>watch.stream</c> op and every change a <c>watch.event</c> op of one logical stream: a
/// connection without a cursor starts a new logical stream (it starts "now"), one with a cursor
/// continues the stream the cursor came from. The watch checker judges the events against the KV
/// workload's writes of the same phase: no gap, no duplicate, per-key order, no phantom value.
/// </summary>
public sealed class WatchWorkload(History history, HttpClient http, int seed) : Workload(history, http, seed)
{
    public const string WorkloadName = "watch";
    private const string Table = KvWorkload.Table;

    public override string Name => WorkloadName;

    // One stream per phase: streams are cheap, but each one is another open request on the loaded CI machine.
    public override int Clients => 1;

    /// <summary>The KV workload's keys of a phase, and nothing else of the table (not the locks workload's fenced key).</summary>
    public static string PrefixOf(int phase) => $"p{phase}-k";

    // The phase's first connection, started in set-up and not awaited there (so set-up takes no
    // longer): opening reads every shard's head, so it can take seconds, and it hangs while a shard is
    // behind the fault; started early, the stream is open for the calm's changes more often.
    private sealed record Ready(HarnessOp Open, Task<(HttpResponseMessage? Response, bool Restart)> Connecting);

    private Ready? _ready;
    private int _streams;

    public override async Task SetUpAsync(int phase, CancellationToken cancel)
    {
        await UntilAsync(async () => (await SendAsync(HttpMethod.Put, $"/v1/tables/{Table}", new JsonObject { ["transactional"] = false, ["shards"] = 6 }, cancel)).Status is 200 or 201,
            cancel, "create table " + Table);
        var open = NewConnection(phase, 0, NewStream(phase, 0), cursor: null);
        _ready = new Ready(open, ConnectAsync(open, cursor: null, CancellationToken.None));
    }

    public override async Task RunClientAsync(int phase, int client, CancellationToken stop)
    {
        var random = RandomFor(phase, client);
        string? cursor = null;
        var stream = "";
        for (var connection = 0; !stop.IsCancellationRequested; connection++)
        {
            HarnessOp open;
            HttpResponseMessage? response;
            bool restart;
            if (connection == 0 && client == 0 && Interlocked.Exchange(ref _ready, null) is { } ready)
            {
                (open, stream) = (ready.Open, ready.Open.Stream!);
                (response, restart) = await ready.Connecting;
            }
            else
            {
                // Without a cursor a connection starts now: a new logical stream. With one it continues the stream.
                stream = cursor is null ? NewStream(phase, client) : stream;
                open = NewConnection(phase, client, stream, cursor);
                (response, restart) = await ConnectAsync(open, cursor, stop);
            }

            if (response is null)
            {
                cursor = restart ? null : cursor;
                await PauseAsync(200, stop);
                continue;
            }

            // The client's own drop: a connection streams for 1.5 to 4 s once open, so resumes happen in every phase.
            using (response)
            {
                var ended = await StreamAsync(open, response, phase, client, cursor, TimeSpan.FromMilliseconds(1500 + random.Next(2500)), stop);
                cursor = ended.Restart ? null : ended.Cursor;
            }
        }
    }

    private string NewStream(int phase, int client) => $"p{phase}-w{client}-{Interlocked.Increment(ref _streams)}";

    private HarnessOp NewConnection(int phase, int client, string stream, string? cursor) =>
        Begin(new HarnessOp { Kind = OpKinds.WatchStream, Workload = Name, Phase = phase, Process = client, Resource = $"p{phase}-watch{client}", Stream = stream, Table = Table, Prefix = PrefixOf(phase), Invoke = History.Now });

    private readonly record struct Ended(string? Cursor, bool Restart);

    // Opens a connection and records its answer; null when it did not open (Restart: the cursor was compacted).
    // Opening is bounded by the client's timeout only: on the loaded CI machine it can take seconds.
    private async Task<(HttpResponseMessage? Response, bool Restart)> ConnectAsync(HarnessOp open, string? cursor, CancellationToken cancel)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/tables/{Table}/watch?prefix={Uri.EscapeDataString(open.Prefix!)}");
        if (cursor is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", cursor);
        }

        HttpResponseMessage response;
        try
        {
            response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            open.Error = e.GetType().Name + ": " + e.Message;
            History.End(open, Outcomes.Unknown);
            return (null, false);
        }

        open.Status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            History.End(open, Outcomes.Ok);
            return (response, false);
        }

        using (response)
        {
            open.Error = await ReadProblemAsync(response, cancel);
            History.End(open, open.Status == 503 ? Outcomes.Unknown : Outcomes.Fail);
            return (null, open.Status == 410);
        }
    }

    // Records every put/delete event of an open connection until it ends (dropped after `lifetime`,
    // by the fault, or by the server). Returns the id of the last whole event received.
    private async Task<Ended> StreamAsync(HarnessOp open, HttpResponseMessage response, int phase, int client, string? cursor, TimeSpan lifetime, CancellationToken stop)
    {
        using var streaming = CancellationTokenSource.CreateLinkedTokenSource(stop);
        streaming.CancelAfter(lifetime);
        var last = cursor;
        try
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(streaming.Token));
            string? type = null, id = null, data = null;
            while (await reader.ReadLineAsync(streaming.Token) is { } line)
            {
                if (line.Length > 0)
                {
                    if (line.StartsWith("event: ", StringComparison.Ordinal))
                    {
                        type = line[7..];
                    }
                    else if (line.StartsWith("id: ", StringComparison.Ordinal))
                    {
                        id = line[4..];
                    }
                    else if (line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        data = data is null ? line[6..] : data + "\n" + line[6..];
                    }

                    continue;
                }

                // A blank line ends an event: only a whole event moves the cursor on.
                if (type is "compacted" or "dropped")
                {
                    return new Ended(last, Restart: true);
                }

                if (type is "put" or "delete" && data is not null && JsonNode.Parse(data) is JsonObject change)
                {
                    Record(open.Stream!, phase, client, open.Resource, type, change);
                }

                last = id ?? last;
                (type, id, data) = (null, null, null);
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            // Dropped: resume from the last whole event.
        }

        return new Ended(last, Restart: false);
    }

    private void Record(string stream, int phase, int client, string resource, string type, JsonObject change)
    {
        var now = History.Now;
        var op = Begin(new HarnessOp
        {
            Kind = OpKinds.WatchEvent, Workload = Name, Phase = phase, Process = client, Resource = resource, Stream = stream, Table = Table,
            Key = change["key"]?.GetValue<string>(), Event = type, Revision = change["revision"]?.GetValue<long>(),
            Version = type == "put" ? change["version"]?.GetValue<long>() : null,
            Value = type == "put" ? change["value"]?.ToJsonString() ?? "null" : null,
            Invoke = now, Status = 200,
        });
        History.End(op, Outcomes.Ok);
    }

    private static async Task<string> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancel)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancel);
            return JsonNode.Parse(text)?["type"]?.GetValue<string>() ?? text;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or System.Text.Json.JsonException)
        {
            return e.GetType().Name;
        }
    }

    /// <summary>
    /// The watch checker on a phase: this workload's streams and events, and the KV workload's writes of
    /// the same phase (the write log the events are checked against; they are every write under the prefix).
    /// </summary>
    public static Verdict Check(IReadOnlyList<HarnessOp> watchOps, IEnumerable<HarnessOp> kvOps, int seed, string fault)
    {
        var writes = kvOps.Where(o => o.Kind is OpKinds.KvPut or OpKinds.KvDelete);
        var meta = new HistoryMeta { Workload = WorkloadName, Seed = seed, Fault = fault, TicksPerSecond = System.Diagnostics.Stopwatch.Frequency };
        var history = HistoryReader.Read(new[] { System.Text.Json.JsonSerializer.Serialize(meta, HistoryJson.Options) }
            .Concat(watchOps.Concat(writes).OrderBy(o => o.Invoke).Select(AsWriteLog)));
        // A phase whose stream never opened judged nothing: ok like the other workloads' all-unanswered
        // phases, with the reason; the report's unavailability (`never`) shows it.
        return history.OfKind(OpKinds.WatchEvent).Any()
            ? WatchChecker.Check(history)
            : Verdict.Ok(WorkloadName, 0, "no watch event was received in this phase: nothing to judge (the stream did not open; see its unavailability)");
    }

    // The KV workload records a 412 put as answered (outcome ok, result preconditionFailed: the
    // linearizability checker reads the result), but the watch checker takes every answered put as
    // acknowledged and would want its event. A 412 applied nothing, so the write log says "fail":
    // then an event showing its value is a violation too, as it should be.
    private static string AsWriteLog(HarnessOp op)
    {
        var line = System.Text.Json.JsonSerializer.SerializeToNode(op, History.Json)!.AsObject();
        if (op.Kind == OpKinds.KvPut && op.Result == "preconditionFailed")
        {
            line["outcome"] = Outcomes.Fail;
        }

        return line.ToJsonString();
    }
}
