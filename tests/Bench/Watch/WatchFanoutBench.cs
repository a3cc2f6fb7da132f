using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OrleansCompute.Bench.Workloads;

namespace OrleansCompute.Bench.Watch;

/// <summary>
/// The <c>watch-fanout</c> workload (issue #14, SPEC §6 "Watch"): <see cref="Watchers"/> streams
/// watch one prefix of a fresh table while one writer puts keys under it at a modest, paced rate.
/// For every put and every watcher, the latency is from the put's acknowledgement (its answer read
/// by the writer) to its event read by that watcher; the figures are p50/p99 over all of them, and
/// PostgreSQL commits per put over the writing window (the long polls behind the streams commit nothing).
/// </summary>
public sealed class WatchFanoutBench(Options options, PgStats? pg, ProgressDisplay progress)
{
    public const string Target = "watch";
    public const string Workload = "watch-fanout";
    public const int Watchers = 100;

    // Modest: a put every 10 ms, so latencies measure delivery, not a queue.
    private const double PutsPerSecond = 100;

    public async Task<RunResult> RunAsync(CancellationToken cancellationToken)
    {
        if (options.Api is not { } api)
        {
            throw new BenchSkipException("watch: no --api given");
        }

        using var writer = BenchHttp.CreateClient(api, 4, options.ApiKey);
        var table = $"bench-watch-{Guid.NewGuid():N}"[..28];
        var create = await writer.PutAsync($"/v1/tables/{table}", new StringContent("""{"shards": 16}""", Encoding.UTF8, "application/json"), cancellationToken);
        if (!create.IsSuccessStatusCode)
        {
            throw new BenchSkipException($"watch: could not create the table: {(int)create.StatusCode} {await BenchHttp.DescribeFailureAsync(create, cancellationToken)}");
        }

        var puts = (int)(PutsPerSecond * options.Duration.TotalSeconds);
        var acked = new long[puts];
        var arrivals = new long[puts, Watchers];
        using var streams = BenchHttp.CreateClient(api, Watchers + 1, options.ApiKey);
        streams.Timeout = Timeout.InfiniteTimeSpan;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var opened = 0;
        var watchers = Enumerable.Range(0, Watchers).Select(w => WatchAsync(streams, table, w, arrivals, () => Interlocked.Increment(ref opened), stop.Token)).ToList();
        var openDeadline = Stopwatch.StartNew();
        while (Volatile.Read(ref opened) < Watchers && openDeadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50, cancellationToken);
        }

        progress.WriteLine($"watch-fanout: {Volatile.Read(ref opened)} of {Watchers} streams open; {puts} puts at {PutsPerSecond}/s");
        var before = pg is null ? (PgSnapshot?)null : await pg.ReadSettledAsync(TimeSpan.FromSeconds(2), cancellationToken);
        var clock = Stopwatch.StartNew();
        var errors = 0L;
        var body = Encoding.UTF8.GetBytes("""{"n":123,"s":"some text"}""");
        for (var i = 0; i < puts; i++)
        {
            var due = TimeSpan.FromSeconds(i / PutsPerSecond);
            if (due > clock.Elapsed)
            {
                await Task.Delay(due - clock.Elapsed, cancellationToken);
            }

            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await writer.PutAsync($"/v1/tables/{table}/keys/wf/{i}", content, cancellationToken);
            acked[i] = response.IsSuccessStatusCode ? Stopwatch.GetTimestamp() : 0;
            errors += response.IsSuccessStatusCode ? 0 : 1;
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var after = pg is null ? (PgSnapshot?)null : await pg.ReadSettledAsync(TimeSpan.FromSeconds(2), cancellationToken);

        // Let the last events arrive (a bounded wait), then stop the streams.
        var drain = Stopwatch.StartNew();
        while (drain.Elapsed < TimeSpan.FromSeconds(5) && Enumerable.Range(0, Watchers).Any(w => Volatile.Read(ref arrivals[puts - 1, w]) == 0))
        {
            await Task.Delay(20, cancellationToken);
        }

        await stop.CancelAsync();
        await Task.WhenAll(watchers.Select(w => w.ContinueWith(_ => { }, TaskScheduler.Default)));

        var latencies = new Histogram();
        var missing = 0L;
        for (var i = 0; i < puts; i++)
        {
            for (var w = 0; w < Watchers; w++)
            {
                if (acked[i] == 0)
                {
                    continue;
                }

                if (arrivals[i, w] == 0)
                {
                    missing++;
                    continue;
                }

                // An event may beat its put's answer to the client: that counts as 0.
                latencies.Record(Math.Max(0, (arrivals[i, w] - acked[i]) * 1_000_000 / Stopwatch.Frequency));
            }
        }

        await writer.DeleteAsync($"/v1/tables/{table}", CancellationToken.None);
        var summary = latencies.Summarize();
        progress.WriteLine($"watch-fanout: {latencies.Count} deliveries to {Watchers} watchers, {missing} missing; put ack → event p50 {summary?.P50Ms:F1} ms, p99 {summary?.P99Ms:F1} ms, max {summary?.MaxMs:F1} ms; " +
                           (before is { } b && after is { } a ? $"{(double)(a.Commits - b.Commits) / puts:F2} PostgreSQL commits per put" : "commits not measured"));
        return new RunResult
        {
            Target = Target,
            Workload = Workload,
            Mode = RunModes.Rate,
            TargetRate = PutsPerSecond,
            Concurrency = Watchers,
            Seconds = seconds,
            Ops = puts,
            OpsPerSecond = puts / seconds,
            Errors = errors + missing,
            ErrorKinds = missing > 0 ? new Dictionary<string, long> { ["missing-event"] = missing } : new Dictionary<string, long>(),
            Latency = summary,
            Commits = before is { } b2 && after is { } a2 ? a2.Commits - b2.Commits : null,
        };
    }

    // One watcher: records when each put's event arrived (the first time; a repeat would be a bug the count shows).
    private static async Task WatchAsync(HttpClient http, string table, int watcher, long[,] arrivals, Func<int> opened, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/tables/{table}/watch?prefix=wf/");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        opened();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        var isPut = false;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                isPut = line == "event: put";
            }
            else if (isPut && line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var now = Stopwatch.GetTimestamp();
                using var data = JsonDocument.Parse(line.AsMemory(6));
                var key = data.RootElement.GetProperty("key").GetString()!;
                var index = int.Parse(key.AsSpan(3));
                if (index < arrivals.GetLength(0))
                {
                    Interlocked.CompareExchange(ref arrivals[index, watcher], now, 0);
                }
            }
        }
    }
}
