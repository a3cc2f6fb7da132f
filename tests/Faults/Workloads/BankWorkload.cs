using System.Text.Json.Nodes;
using OrleansCompute.Tests.Faults.Harness;

namespace OrleansCompute.Tests.Faults.Workloads;

/// <summary>
/// The bank over /v1/txn on a transactional table: accounts start at 100 each; transfers move
/// 1–10 between two accounts only if the payer has it (compare ≥); reads get every balance in
/// one transaction. The checker holds the total fixed and every read's total equal to it.
/// </summary>
public sealed class BankWorkload(History history, HttpClient http, int seed) : Workload(history, http, seed)
{
    public const string Table = "faultbank";
    public const int Accounts = 4;
    public const long Initial = 100;

    public override string Name => "bank";

    public static string Account(int phase, int index) => $"p{phase}-a{index}";

    private static string Resource(int phase) => $"p{phase}-bank";

    public override async Task SetUpAsync(int phase, CancellationToken cancel)
    {
        await UntilAsync(async () => (await SendAsync(HttpMethod.Put, $"/v1/tables/{Table}", new JsonObject { ["transactional"] = true, ["shards"] = 4 }, cancel)).Status is 200 or 201,
            cancel, "create table " + Table);
        var success = new JsonArray();
        var balances = new Dictionary<string, long>();
        for (var i = 0; i < Accounts; i++)
        {
            success.Add(new JsonObject { ["op"] = "put", ["table"] = Table, ["key"] = Account(phase, i), ["value"] = Initial });
            balances[Account(phase, i)] = Initial;
        }

        await UntilAsync(async () =>
        {
            var op = Begin(new Op { Kind = "bank.init", Workload = Name, Phase = phase, Process = 99, Resource = Resource(phase), Balances = balances, Invoke = History.Now });
            var answer = await SendAsync(HttpMethod.Post, "/v1/txn", new JsonObject { ["compare"] = new JsonArray(), ["success"] = success.DeepClone(), ["failure"] = new JsonArray() }, cancel);
            op.Succeeded = answer.Body?["succeeded"]?.GetValue<bool>();
            Finish(op, answer);
            return answer.Status == 200;
        }, cancel, "bank init");
    }

    public override async Task RunClientAsync(int phase, int client, CancellationToken stop)
    {
        var random = RandomFor(phase, client);
        while (!stop.IsCancellationRequested)
        {
            if (random.Next(100) < 60)
            {
                var from = random.Next(Accounts);
                var to = (from + 1 + random.Next(Accounts - 1)) % Accounts;
                var amount = random.Next(1, 11);
                var op = Begin(new Op { Kind = "bank.transfer", Workload = Name, Phase = phase, Process = client, Resource = Resource(phase), From = Account(phase, from), To = Account(phase, to), Amount = amount, Invoke = History.Now });
                var answer = await SendAsync(HttpMethod.Post, "/v1/txn", new JsonObject
                {
                    ["compare"] = new JsonArray(new JsonObject { ["table"] = Table, ["key"] = Account(phase, from), ["target"] = "value", ["op"] = ">=", ["value"] = amount }),
                    ["success"] = new JsonArray(
                        new JsonObject { ["op"] = "add", ["table"] = Table, ["key"] = Account(phase, from), ["value"] = -amount },
                        new JsonObject { ["op"] = "add", ["table"] = Table, ["key"] = Account(phase, to), ["value"] = amount }),
                    ["failure"] = new JsonArray(),
                }, stop);
                op.Succeeded = answer.Status == 200 ? answer.Body?["succeeded"]?.GetValue<bool>() : null;
                Finish(op, answer);
            }
            else
            {
                var gets = new JsonArray();
                for (var i = 0; i < Accounts; i++)
                {
                    gets.Add(new JsonObject { ["op"] = "get", ["table"] = Table, ["key"] = Account(phase, i) });
                }

                var op = Begin(new Op { Kind = "bank.read", Workload = Name, Phase = phase, Process = client, Resource = Resource(phase), Invoke = History.Now });
                var answer = await SendAsync(HttpMethod.Post, "/v1/txn", new JsonObject { ["compare"] = new JsonArray(), ["success"] = gets, ["failure"] = new JsonArray() }, stop);
                if (answer.Status == 200 && answer.Body?["results"] is JsonArray results)
                {
                    op.Balances = results.OfType<JsonObject>().ToDictionary(
                        r => r["key"]!.GetValue<string>(),
                        r => r["value"] is JsonValue value && value.TryGetValue<long>(out var n) ? n : 0L);
                    op.Succeeded = true;
                }

                Finish(op, answer);
            }

            await PauseAsync(30, stop);
        }
    }
}
