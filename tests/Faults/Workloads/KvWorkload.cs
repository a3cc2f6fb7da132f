using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using OrleansCompute.Tests.Faults.Harness;

namespace OrleansCompute.Tests.Faults.Workloads;

/// <summary>
/// Registers on a few hot keys of a sharded table: get, put, conditional put (If-Match of the last
/// version the client saw) and delete. Every written value is unique ("p3-c1-17"), so a read
/// names the write it saw, which is what the linearizability checker needs.
/// </summary>
public sealed class KvWorkload(History history, HttpClient http, int seed) : Workload(history, http, seed)
{
    public const string Table = "faultkv";
    private const int Keys = 3;

    public override string Name => "kv";

    public override int Clients => 4;

    public static string KeyOf(int phase, int index) => $"p{phase}-k{index}";

    public override Task SetUpAsync(int phase, CancellationToken cancel) =>
        // The table once; every phase uses its own keys in it.
        UntilAsync(async () => (await SendAsync(HttpMethod.Put, $"/v1/tables/{Table}", new JsonObject { ["transactional"] = false, ["shards"] = 6 }, cancel)).Status is 200 or 201,
            cancel, "create table " + Table);

    public override async Task RunClientAsync(int phase, int client, CancellationToken stop)
    {
        var random = RandomFor(phase, client);
        var seen = new Dictionary<string, long>();
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var key = KeyOf(phase, random.Next(Keys));
            var path = $"/v1/tables/{Table}/keys/{key}";
            var roll = random.Next(100);
            if (roll < 40)
            {
                var op = Begin(new Op { Kind = "kv.get", Workload = Name, Phase = phase, Process = client, Resource = key, Table = Table, Key = key, Invoke = History.Now });
                var answer = await SendAsync(HttpMethod.Get, path, null, stop);
                if (answer.Status == 200)
                {
                    op.Value = answer.Body?.ToJsonString();
                    op.Version = answer.ETagVersion;
                    op.Result = "ok";
                    seen[key] = answer.ETagVersion ?? 0;
                }
                else if (answer.Status == 404)
                {
                    op.Result = "notFound";
                    seen.Remove(key);
                }

                Finish(op, answer, 404);
            }
            else if (roll < 90)
            {
                // A put, conditional on the version last seen half of the time.
                long? ifVersion = roll >= 70 && seen.TryGetValue(key, out var v) ? v : null;
                var value = JsonValue.Create($"p{phase}-c{client}-{n}");
                var op = Begin(new Op { Kind = "kv.put", Workload = Name, Phase = phase, Process = client, Resource = key, Table = Table, Key = key, Value = value.ToJsonString(), IfVersion = ifVersion, Invoke = History.Now });
                var answer = await SendAsync(HttpMethod.Put, path, value, stop,
                    h => { if (ifVersion is { } iv) { h.IfMatch.Add(new EntityTagHeaderValue($"\"{iv}\"")); } });
                op.Result = answer.Status switch { 201 => "created", 200 => "ok", 412 => "preconditionFailed", _ => null };
                if (answer.Status is 200 or 201)
                {
                    op.Version = answer.ETagVersion ?? answer.Body?["version"]?.GetValue<long>();
                    seen[key] = op.Version ?? 0;
                }

                Finish(op, answer, 412);
            }
            else
            {
                var op = Begin(new Op { Kind = "kv.delete", Workload = Name, Phase = phase, Process = client, Resource = key, Table = Table, Key = key, Invoke = History.Now });
                var answer = await SendAsync(HttpMethod.Delete, path, null, stop);
                op.Result = answer.Status switch { 204 => "ok", 404 => "notFound", _ => null };
                seen.Remove(key);
                Finish(op, answer, 404);
            }

            await PauseAsync(20, stop);
        }
    }
}
