using System.Text.Json.Nodes;
using OrleansCompute.Tests.Faults.Harness;

namespace OrleansCompute.Tests.Faults.Workloads;

/// <summary>
/// Locks with leases and fenced writes: each client keeps a lease alive (TTL 6 s), acquires the
/// phase's lock, writes a fenced value ("token:client:n") to one key with Fencing-Token, reads
/// it back and releases. The checker holds the tokens strictly increasing, one holder at a time,
/// and no write with a stale token applied after a newer one.
/// </summary>
public sealed class LockWorkload(History history, HttpClient http, int seed) : Workload(history, http, seed)
{
    public const string Table = KvWorkload.Table;
    private const int TtlSeconds = 6;

    public override string Name => "locks";

    public static string LockOf(int phase) => $"faults/p{phase}-lock";

    public static string FencedKey(int phase) => $"p{phase}-fenced";

    public override Task SetUpAsync(int phase, CancellationToken cancel) =>
        UntilAsync(async () => (await SendAsync(HttpMethod.Put, $"/v1/tables/{Table}", new JsonObject { ["transactional"] = false, ["shards"] = 6 }, cancel)).Status is 200 or 201,
            cancel, "create table " + Table);

    public override async Task RunClientAsync(int phase, int client, CancellationToken stop)
    {
        var name = LockOf(phase);
        var key = FencedKey(phase);
        string? lease = null;
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            lease ??= await GrantAsync(phase, client, name, stop);
            if (lease is null)
            {
                await PauseAsync(300, stop);
                continue;
            }

            var acquire = Begin(new Op { Kind = "lock.acquire", Workload = Name, Phase = phase, Process = client, Resource = name, Name = name, Lease = lease, Invoke = History.Now });
            var granted = await SendAsync(HttpMethod.Post, $"/v1/locks/{name}", new JsonObject { ["lease"] = lease, ["waitSeconds"] = 3 }, stop);
            acquire.Token = granted.Status == 200 ? granted.Body?["token"]?.GetValue<long>() : null;
            Finish(acquire, granted, 409);
            if (granted.Status == 404)
            {
                lease = null; // the lease ended: grant another
                continue;
            }

            if (acquire.Token is not { } token)
            {
                await KeepAliveAsync(phase, client, name, lease, stop);
                continue;
            }

            var value = JsonValue.Create($"{token}:{client}:{n}");
            var write = Begin(new Op { Kind = "lock.write", Workload = Name, Phase = phase, Process = client, Resource = name, Name = name, Lease = lease, Token = token, Table = Table, Key = key, Value = value.ToJsonString(), Invoke = History.Now });
            var written = await SendAsync(HttpMethod.Put, $"/v1/tables/{Table}/keys/{key}", value, stop, h => h.Add("Fencing-Token", $"{name}={token}"));
            write.Version = written.ETagVersion;
            write.Result = written.Status switch { 200 => "ok", 201 => "created", 409 => "fenced", _ => null };
            Finish(write, written, 409);

            var read = Begin(new Op { Kind = "lock.read", Workload = Name, Phase = phase, Process = client, Resource = name, Name = name, Table = Table, Key = key, Invoke = History.Now });
            var got = await SendAsync(HttpMethod.Get, $"/v1/tables/{Table}/keys/{key}", null, stop);
            read.Value = got.Status == 200 ? got.Body?.ToJsonString() : null;
            read.Version = got.ETagVersion;
            Finish(read, got, 404);

            if (!await KeepAliveAsync(phase, client, name, lease, stop))
            {
                lease = null;
            }

            var release = Begin(new Op { Kind = "lock.release", Workload = Name, Phase = phase, Process = client, Resource = name, Name = name, Lease = lease, Token = token, Invoke = History.Now });
            var released = await SendAsync(HttpMethod.Delete, $"/v1/locks/{name}?token={token}", null, stop);
            Finish(release, released, 409);
            await PauseAsync(50, stop);
        }
    }

    private async Task<string?> GrantAsync(int phase, int client, string name, CancellationToken stop)
    {
        var grant = Begin(new Op { Kind = "lease.grant", Workload = Name, Phase = phase, Process = client, Resource = name, TtlMs = TtlSeconds * 1000, Invoke = History.Now });
        var answer = await SendAsync(HttpMethod.Post, "/v1/leases", new JsonObject { ["ttlSeconds"] = TtlSeconds }, stop);
        grant.Lease = answer.Status == 201 ? answer.Body?["id"]?.GetValue<string>() : null;
        Finish(grant, answer);
        return grant.Lease;
    }

    /// <returns>false once the lease is known to have ended (404)</returns>
    private async Task<bool> KeepAliveAsync(int phase, int client, string name, string lease, CancellationToken stop)
    {
        var op = Begin(new Op { Kind = "lease.keepalive", Workload = Name, Phase = phase, Process = client, Resource = name, Lease = lease, TtlMs = TtlSeconds * 1000, Invoke = History.Now });
        var answer = await SendAsync(HttpMethod.Post, $"/v1/leases/{lease}/keepalive", null, stop);
        Finish(op, answer, 404);
        return answer.Status != 404;
    }
}
