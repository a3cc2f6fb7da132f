using System.Globalization;
using System.Text;

namespace OrleansCompute.Bench.Workloads;

/// <summary>
/// Transactions of the OrleansCompute Api (SPEC §4.2): a fresh transactional table
/// <c>bank-&lt;random&gt;</c> with 16 shards and <see cref="Accounts"/> accounts, dropped on dispose.
/// </summary>
public sealed class TxnApiTarget : IHttpTarget
{
    /// <summary>Accounts the transfers pick from; enough that two transfers rarely touch the same one.</summary>
    public const int Accounts = 10_000;

    /// <summary>Opening balance: transfers of at most 100 never run an account dry during a run.</summary>
    public const int OpeningBalance = 1_000_000;

    private readonly Uri _tableUri;
    private readonly TextWriter _log;

    private TxnApiTarget(HttpClient client, string table, TextWriter log)
    {
        Client = client;
        Table = table;
        _log = log;
        _tableUri = new Uri(client.BaseAddress!, $"/v1/tables/{table}");
        Workloads = [new TxnTransfer(new Uri(client.BaseAddress!, "/v1/txn"), table)];
    }

    public string Name => "txn";

    public string Table { get; }

    public HttpClient Client { get; }

    public bool UsesPostgres => true;

    public IReadOnlyList<IWorkload> Workloads { get; }

    public static string Account(int index) => string.Create(CultureInfo.InvariantCulture, $"acct-{index:D5}");

    /// <summary>
    /// Creates the table and opens the accounts, 64 per transaction, two transactions at a time:
    /// creating keys writes the shards' key indexes, which every opening transaction touches.
    /// </summary>
    public static async Task<TxnApiTarget> StartAsync(Uri api, string? apiKey, int concurrency, TextWriter log, CancellationToken cancellationToken)
    {
        var client = BenchHttp.CreateClient(api, concurrency, apiKey);
        var table = $"bank-{Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()))[..8]}";
        var target = new TxnApiTarget(client, table, log);
        try
        {
            using var created = await client.PutAsync(target._tableUri, BenchHttp.Json("""{"transactional":true,"shards":16}"""u8.ToArray()), cancellationToken);
            if (!created.IsSuccessStatusCode)
            {
                throw new BenchSkipException($"txn: creating table {table} answered {await BenchHttp.DescribeFailureAsync(created, cancellationToken)}");
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await Parallel.ForEachAsync(
                Enumerable.Range(0, Accounts).Chunk(64),
                new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancellationToken },
                async (chunk, ct) =>
                {
                    var ops = string.Join(',', chunk.Select(i => $$"""{"op":"put","table":"{{table}}","key":"{{Account(i)}}","value":{{OpeningBalance}}}"""));
                    using var opened = await client.PostAsync("/v1/txn", BenchHttp.Json(Encoding.UTF8.GetBytes($$"""{"success":[{{ops}}]}""")), ct);
                    if (!opened.IsSuccessStatusCode)
                    {
                        throw new BenchSkipException($"txn: opening accounts answered {await BenchHttp.DescribeFailureAsync(opened, ct)}");
                    }
                });
            log.WriteLine($"txn: created table {table} and opened {Accounts:N0} accounts in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
            return target;
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => new(BenchHttp.DropTableAndDisposeAsync(Client, _tableUri, Table, _log, "txn"));
}

/// <summary>
/// <c>POST /v1/txn</c>: move 1..100 from one random account to another, guarded by
/// <c>compare value &gt;= amount</c>, the failure branch reading the source (SPEC §4.2's example).
/// </summary>
public sealed class TxnTransfer(Uri txn, string table) : IWorkload
{
    public string Name => "txn-transfer";

    public ValueTask<int> ExecuteOnceAsync(HttpClient client, Random random, CancellationToken cancellationToken)
    {
        var from = random.Next(TxnApiTarget.Accounts);
        var to = (from + 1 + random.Next(TxnApiTarget.Accounts - 1)) % TxnApiTarget.Accounts;
        var amount = 1 + random.Next(100);
        var body = string.Create(CultureInfo.InvariantCulture, $$"""
            {"compare":[{"table":"{{table}}","key":"{{TxnApiTarget.Account(from)}}","target":"value","op":">=","value":{{amount}}}],
             "success":[{"op":"add","table":"{{table}}","key":"{{TxnApiTarget.Account(from)}}","value":{{-amount}}},
                        {"op":"add","table":"{{table}}","key":"{{TxnApiTarget.Account(to)}}","value":{{amount}}}],
             "failure":[{"op":"get","table":"{{table}}","key":"{{TxnApiTarget.Account(from)}}"}]}
            """);
        return BenchHttp.SendJsonAsync(client, HttpMethod.Post, txn, Encoding.UTF8.GetBytes(body), cancellationToken);
    }
}
