using System.Diagnostics;

namespace OrleansCompute.Bench.Elastic;

/// <summary>One request of the elastic load: when its latency is counted from, when it ended, how it went.</summary>
/// <param name="Start">Its due time when it was sent late (every earlier request of its key still running), else when it was sent.</param>
/// <param name="Sent">When it actually went out.</param>
/// <param name="Failure">Null on a 2xx; otherwise "503 ServiceUnavailable", "timeout", an exception name.</param>
public readonly record struct KeySample(long Start, long Sent, long End, bool Put, string? Failure)
{
    public bool Success => Failure is null;
}

/// <summary>
/// The open-loop load of the <c>elastic</c> workload: one loop per key, each sending every
/// <c>keys / rate</c> seconds (the keys staggered so the total is an even <c>rate</c>), PUT and
/// GET in turn. A key's requests never wait for another key's, so when a shard stops answering
/// only its keys go dark, and the longest time a key went without a successful answer is exactly
/// that key's unavailability.
/// </summary>
/// <remarks>
/// A request that is due while its key's previous one still runs goes out as soon as that one
/// ends and is timed from when it was due (no coordinated omission). A request unanswered after
/// <c>requestTimeout</c> is abandoned (a <c>timeout</c> error) and the key's next one goes out, as
/// a client with a timeout and a retry would do.
/// </remarks>
public sealed class KeyLoad(HttpClient client, IReadOnlyList<Uri> keys, double rate, TimeSpan requestTimeout)
{
    // One loop per key records about rate / keys samples a second; far more than any bounded run needs.
    private const int MaxSamplesPerKey = 1_000_000;

    private readonly List<KeySample>[] _samples = keys.Select(_ => new List<KeySample>()).ToArray();
    private readonly long[] _lastSuccessSent = new long[keys.Count];
    private readonly CancellationTokenSource _stop = new();
    private Task[] _loops = [];
    private long _completed;
    private long _errors;

    public long StartTimestamp { get; private set; }

    public int Keys => keys.Count;

    public double Rate => rate;

    public long Completed => Volatile.Read(ref _completed);

    public long Errors => Volatile.Read(ref _errors);

    /// <summary>Each key's samples in the order they ended; read only after <see cref="StopAsync"/>.</summary>
    public IReadOnlyList<IReadOnlyList<KeySample>> Samples => _samples;

    public void Start(CancellationToken abort)
    {
        StartTimestamp = Stopwatch.GetTimestamp();
        var ticksPerRequest = Stopwatch.Frequency / rate;
        _loops = Enumerable.Range(0, keys.Count)
            .Select(k => Task.Run(() => RunKeyAsync(k, ticksPerRequest, abort), CancellationToken.None))
            .ToArray();
    }

    /// <summary>Whether every key has had a successful answer to a request sent at or after <paramref name="timestamp"/>.</summary>
    public bool AllKeysServedSince(long timestamp)
    {
        for (var k = 0; k < _lastSuccessSent.Length; k++)
        {
            if (Volatile.Read(ref _lastSuccessSent[k]) < timestamp)
            {
                return false;
            }
        }

        return true;
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task RunKeyAsync(int key, double ticksPerRequest, CancellationToken abort)
    {
        var random = new Random(Random.Shared.Next());
        var samples = _samples[key];
        var stop = _stop.Token;
        for (long round = 0; !stop.IsCancellationRequested && samples.Count < MaxSamplesPerKey; round++)
        {
            var due = StartTimestamp + (long)(((round * keys.Count) + key) * ticksPerRequest);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            long start;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                start = Stopwatch.GetTimestamp();
            }
            else
            {
                // Late: the key's previous request ran past this one's due time; the wait counts.
                start = due;
            }

            var sent = Stopwatch.GetTimestamp();
            var put = round % 2 == 0;
            string? failure;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(abort))
            {
                timeout.CancelAfter(requestTimeout);
                try
                {
                    var status = await ElasticMix.Execute(client, keys[key], put, random, timeout.Token);
                    failure = status is >= 200 and <= 299 ? null : $"{status} {LoadRunner.StatusName(status)}";
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested)
                {
                    return;
                }
                catch (OperationCanceledException)
                {
                    failure = "timeout";
                }
                catch (Exception e)
                {
                    failure = e.InnerException is { } inner ? $"{e.GetType().Name} ({inner.Message})" : e.GetType().Name;
                }
            }

            var end = Stopwatch.GetTimestamp();
            samples.Add(new KeySample(start, sent, end, put, failure));
            if (failure is null)
            {
                Volatile.Write(ref _lastSuccessSent[key], sent);
                Interlocked.Increment(ref _completed);
            }
            else
            {
                Interlocked.Increment(ref _errors);
            }
        }
    }
}

/// <summary>The figures of one window of the elastic load (an event, or steady load without one).</summary>
public static class KeyLoadAnalysis
{
    /// <summary>
    /// Requests that ended in [<paramref name="from"/>, <paramref name="to"/>): successes, errors by
    /// kind, latency; and for each key the longest time it went without a successful answer: from
    /// its last success before the window (or the window's start), between successes inside it, and
    /// from its last success to the window's end.
    /// </summary>
    public static WindowFigures Analyze(KeyLoad load, long from, long to)
    {
        var histogram = new Histogram();
        var errorKinds = new Dictionary<string, long>(StringComparer.Ordinal);
        long ops = 0, errors = 0;
        var worst = new List<double>(load.Keys);
        foreach (var samples in load.Samples)
        {
            var lastGood = from;
            var longest = 0L;
            foreach (var sample in samples)
            {
                if (sample.End < from)
                {
                    if (sample.Success)
                    {
                        lastGood = sample.End;
                    }

                    continue;
                }

                if (sample.End >= to)
                {
                    break;
                }

                if (sample.Success)
                {
                    ops++;
                    histogram.Record((long)Stopwatch.GetElapsedTime(sample.Start, sample.End).TotalMicroseconds);
                    longest = Math.Max(longest, sample.End - lastGood);
                    lastGood = sample.End;
                }
                else
                {
                    errors++;
                    errorKinds[sample.Failure!] = errorKinds.GetValueOrDefault(sample.Failure!) + 1;
                }
            }

            longest = Math.Max(longest, to - lastGood);
            worst.Add(Stopwatch.GetElapsedTime(0, longest).TotalMilliseconds);
        }

        worst.Sort();
        var seconds = Stopwatch.GetElapsedTime(from, to).TotalSeconds;
        return new WindowFigures(
            Seconds: seconds,
            Ops: ops,
            OpsPerSecond: seconds > 0 ? ops / seconds : 0,
            Errors: errors,
            ErrorKinds: errorKinds,
            Latency: histogram.Summarize(),
            KeyGapMaxMs: worst.Count == 0 ? 0 : worst[^1],
            KeyGapP99Ms: Percentile(worst, 99),
            KeyGapP50Ms: Percentile(worst, 50),
            KeysDarkOver1s: worst.Count(ms => ms > 1000));
    }

    /// <summary>Latency of every successful request of the load, for the overall p99.</summary>
    public static Histogram Latencies(KeyLoad load, long from)
    {
        var histogram = new Histogram();
        foreach (var sample in load.Samples.SelectMany(s => s).Where(s => s.Success && s.End >= from))
        {
            histogram.Record((long)Stopwatch.GetElapsedTime(sample.Start, sample.End).TotalMicroseconds);
        }

        return histogram;
    }

    private static double Percentile(List<double> sorted, double percentile) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(percentile / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
}

/// <summary>What <see cref="KeyLoadAnalysis.Analyze"/> found in one window.</summary>
/// <param name="KeyGapMaxMs">Per-key unavailability: the longest a key went without a successful answer, worst key.</param>
/// <param name="KeyGapP99Ms">The same, 99th percentile over keys.</param>
/// <param name="KeyGapP50Ms">The same, median key.</param>
/// <param name="KeysDarkOver1s">Keys whose longest gap exceeded 1 s (the bound for a planned move).</param>
public sealed record WindowFigures(
    double Seconds, long Ops, double OpsPerSecond, long Errors, IReadOnlyDictionary<string, long> ErrorKinds, LatencySummary? Latency,
    double KeyGapMaxMs, double KeyGapP99Ms, double KeyGapP50Ms, int KeysDarkOver1s);
