using System.Diagnostics;
using OrleansCompute.Bench.Workloads;

namespace OrleansCompute.Bench;

/// <summary>How long and how hard to load a target.</summary>
public sealed record LoadSettings(int Concurrency, TimeSpan Warmup, TimeSpan Duration);

/// <summary>
/// The load generator, the same for every HTTP target: <see cref="LoadSettings.Concurrency"/>
/// async loops over one <see cref="HttpClient"/>, a warmup, then a measured window of fixed length.
/// </summary>
/// <remarks>
/// Closed loop (no rate): each loop sends its next request when the previous one answered, which
/// measures peak throughput. Open loop (a rate): request i is due at start + i / rate and is taken
/// by the next free loop, so the concurrency is only a cap. A request that is late because every
/// loop was busy is timed from when it was due (queueing counts, no coordinated omission); one the
/// harness itself held back until its due time is timed from when it was sent, so our timer's
/// granularity does not count against the target.
/// Only requests that complete inside the window count; errors never count as throughput.
/// </remarks>
public sealed class LoadRunner(LoadSettings settings, ProgressDisplay progress)
{
    /// <summary>Measures one workload. Throws <see cref="BenchSkipException"/> when a probe request fails.</summary>
    public async Task<RunResult> RunAsync(
        IHttpTarget target, IWorkload workload, string mode, double? rate, PgStats? pgStats, ProcessCpu cpu, CancellationToken cancellationToken)
    {
        await ProbeAsync(target, workload, cancellationToken);

        var window = new Window(Stopwatch.GetTimestamp(), rate, idlePhase: "warmup");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = new Loop[settings.Concurrency];
        var tasks = new Task[loops.Length];
        for (var i = 0; i < loops.Length; i++)
        {
            loops[i] = new Loop(target.Client, workload, window, new Random(Random.Shared.Next()));
            var loop = loops[i];
            tasks[i] = Task.Run(() => loop.RunAsync(stop.Token, cancellationToken), CancellationToken.None);
        }

        var label = $"{target.Name} {workload.Name}" + (rate is { } r ? $" @{r:0}/s" : "");
        PgSnapshot? before = null, after = null;
        IReadOnlyDictionary<string, Dictionary<int, long>>? cpuBefore = null, cpuAfter = null;
        double seconds;
        TimeSpan gcPause, gcPauseBefore = TimeSpan.Zero;
        try
        {
            await using (progress.Start(label, () => window.Sample(settings)))
            {
                await Task.Delay(settings.Warmup, cancellationToken);
                // Both readings are taken under load; see PgStats for why.
                before = pgStats is null ? null : await pgStats.ReadAsync(cancellationToken);
                gcPauseBefore = GC.GetTotalPauseDuration();
                cpuBefore = cpu.Read();
                window.BeginMeasuring();
                await Task.Delay(settings.Duration, cancellationToken);
                after = pgStats is null ? null : await pgStats.ReadAsync(cancellationToken);
                seconds = window.EndMeasuring();
                cpuAfter = cpu.Read();
                gcPause = GC.GetTotalPauseDuration() - gcPauseBefore;
                await stop.CancelAsync();
                await Task.WhenAll(tasks);
            }
        }
        finally
        {
            await stop.CancelAsync();
            // On cancellation the loops end with their in-flight requests; never leave them behind.
            await Task.WhenAll(tasks).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        var histogram = new Histogram();
        var timerLag = new Histogram();
        var errorKinds = new Dictionary<string, long>(StringComparer.Ordinal);
        long ops = 0, errors = 0;
        foreach (var loop in loops)
        {
            histogram.Add(loop.Histogram);
            timerLag.Add(loop.TimerLag);
            ops += loop.MeasuredOps;
            errors += loop.MeasuredErrors;
            foreach (var (kind, count) in loop.ErrorKinds)
            {
                errorKinds[kind] = errorKinds.GetValueOrDefault(kind) + count;
            }
        }

        var opsPerSecond = ops / seconds;
        string? note = null;
        if (rate is { } asked && opsPerSecond < asked * 0.95)
        {
            note = $"reached only {opsPerSecond:N0} of {asked:N0} req/s: the concurrency cap or the target is saturated";
        }

        // The harness's own GC pauses stall its clock and its requests alike (and the in-process
        // Kestrel baseline's server): worth knowing when they are a visible share of the window.
        if (gcPause.TotalSeconds > seconds / 100)
        {
            var pause = $"harness GC paused {gcPause.TotalMilliseconds:N0} ms in the window";
            note = note is null ? pause : $"{note}; {pause}";
        }

        // Late wake-ups are not charged to the target, but a harness that cannot keep its own
        // schedule (a CPU-starved machine) makes every open-loop figure suspect: say so.
        if (rate is not null && timerLag.Count > 0)
        {
            var lag = $"harness timer lag p99 {timerLag.PercentileMicros(99) / 1000.0:0.00} ms, max {timerLag.MaxMicros / 1000.0:0.00} ms";
            note = note is null ? lag : $"{note}; {lag}";
        }

        return new RunResult
        {
            Target = target.Name,
            Workload = workload.Name,
            Mode = mode,
            TargetRate = rate,
            Concurrency = settings.Concurrency,
            Seconds = seconds,
            Ops = ops,
            OpsPerSecond = opsPerSecond,
            Errors = errors,
            ErrorKinds = errorKinds,
            Latency = histogram.Summarize(),
            Commits = before is { } b && after is { } a && target.UsesPostgres ? a.Commits - b.Commits : null,
            WriteTransactions = before is { } b2 && after is { } a2 && target.UsesPostgres ? a2.NextXid - b2.NextXid : null,
            HarnessGcPauseMs = gcPause.TotalMilliseconds,
            CpuMicrosPerOp = ProcessCpu.PerOp(cpuBefore, cpuAfter, ops),
            Note = note,
        };
    }

    /// <summary>
    /// Loads the workload unmeasured for <paramref name="length"/>, once before its first run: a
    /// process just started (the Api, the in-process Kestrel, this harness) needs several seconds
    /// of traffic before tiered JIT settles, and ratios would otherwise compare cold with warm.
    /// </summary>
    public async Task PrimeAsync(IHttpTarget target, IWorkload workload, TimeSpan length, CancellationToken cancellationToken)
    {
        await ProbeAsync(target, workload, cancellationToken);
        var window = new Window(Stopwatch.GetTimestamp(), rate: null, idlePhase: "prime");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = Enumerable.Range(0, settings.Concurrency)
            .Select(_ => new Loop(target.Client, workload, window, new Random(Random.Shared.Next())))
            .Select(loop => Task.Run(() => loop.RunAsync(stop.Token, cancellationToken), CancellationToken.None))
            .ToArray();
        try
        {
            await using (progress.Start($"{target.Name} {workload.Name}", () => window.Sample(settings with { Warmup = length })))
            {
                await Task.Delay(length, cancellationToken);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(tasks).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>One request first, so a missing endpoint is one clear message rather than a window full of errors.</summary>
    private static async Task ProbeAsync(IHttpTarget target, IWorkload workload, CancellationToken cancellationToken)
    {
        int status;
        try
        {
            status = await workload.ExecuteOnceAsync(target.Client, new Random(1), cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new BenchSkipException($"{target.Name} {workload.Name}: the first request failed: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BenchSkipException($"{target.Name} {workload.Name}: the first request timed out");
        }

        if (status is < 200 or > 299)
        {
            var hint = status is 404 or 405 ? " (endpoint missing in this build?)" : status is 401 or 403 ? " (pass --api-key?)" : "";
            throw new BenchSkipException($"{target.Name} {workload.Name}: the first request answered {status} {StatusName(status)}{hint}");
        }
    }

    internal static string StatusName(int status) =>
        Enum.IsDefined(typeof(System.Net.HttpStatusCode), status) ? ((System.Net.HttpStatusCode)status).ToString() : "";

    /// <summary>Timing shared by all loops of one run: when measuring starts and ends, and the open-loop schedule.</summary>
    private sealed class Window(long startTimestamp, double? rate, string idlePhase)
    {
        private readonly double _ticksPerRequest = rate is { } r ? Stopwatch.Frequency / r : 0;
        private long _measureStart = long.MaxValue;
        private long _measureEnd = long.MaxValue;
        private long _nextTicket;
        private long _completed;
        private long _errors;

        public bool OpenLoop => rate is not null;

        public long MeasureStart => Volatile.Read(ref _measureStart);

        public long MeasureEnd => Volatile.Read(ref _measureEnd);

        public void BeginMeasuring() => Volatile.Write(ref _measureStart, Stopwatch.GetTimestamp());

        /// <summary>Closes the window and returns its length in seconds.</summary>
        public double EndMeasuring()
        {
            var end = Stopwatch.GetTimestamp();
            Volatile.Write(ref _measureEnd, end);
            return Stopwatch.GetElapsedTime(MeasureStart, end).TotalSeconds;
        }

        /// <summary>The due time of the next request in open-loop mode.</summary>
        public long NextDue() => startTimestamp + (long)(Interlocked.Increment(ref _nextTicket) * _ticksPerRequest);

        public void Completed(bool success)
        {
            Interlocked.Increment(ref success ? ref _completed : ref _errors);
        }

        public ProgressSample Sample(LoadSettings settings)
        {
            var now = Stopwatch.GetTimestamp();
            var measureStart = MeasureStart;
            return measureStart == long.MaxValue
                ? new ProgressSample(idlePhase, Stopwatch.GetElapsedTime(startTimestamp, now), settings.Warmup, Volatile.Read(ref _completed), Volatile.Read(ref _errors))
                : new ProgressSample("measure", Stopwatch.GetElapsedTime(measureStart, now), settings.Duration, Volatile.Read(ref _completed), Volatile.Read(ref _errors));
        }
    }

    /// <summary>One load loop: its own histogram and counters, merged after the run.</summary>
    private sealed class Loop(HttpClient client, IWorkload workload, Window window, Random random)
    {
        private static readonly TimeSpan MinSleep = TimeSpan.FromMilliseconds(1);

        public Histogram Histogram { get; } = new();

        /// <summary>Open loop: how late this loop woke up for requests it held back until their due time (our own scheduling delay).</summary>
        public Histogram TimerLag { get; } = new();

        public long MeasuredOps { get; private set; }

        public long MeasuredErrors { get; private set; }

        public Dictionary<string, long> ErrorKinds { get; } = new(StringComparer.Ordinal);

        public async Task RunAsync(CancellationToken stop, CancellationToken abort)
        {
            while (!stop.IsCancellationRequested)
            {
                long start;
                long? sleptPastDue = null;
                if (window.OpenLoop)
                {
                    var due = window.NextDue();
                    if (due >= window.MeasureEnd)
                    {
                        return;
                    }

                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    if (wait > TimeSpan.Zero)
                    {
                        if (wait >= MinSleep)
                        {
                            try
                            {
                                await Task.Delay(wait, stop);
                            }
                            catch (OperationCanceledException)
                            {
                                return;
                            }
                        }

                        start = Stopwatch.GetTimestamp();
                        sleptPastDue = start - due;
                    }
                    else
                    {
                        // Every loop was busy when this request fell due: the wait is the target's latency.
                        start = due;
                    }
                }
                else
                {
                    start = Stopwatch.GetTimestamp();
                }

                int status;
                string? failure = null;
                try
                {
                    // In-flight requests finish after the window closes (abort only on Ctrl-C).
                    status = await workload.ExecuteOnceAsync(client, random, abort);
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested)
                {
                    return;
                }
                catch (TaskCanceledException)
                {
                    status = 0;
                    failure = "timeout";
                }
                catch (Exception e)
                {
                    status = 0;
                    failure = e.InnerException is { } inner ? $"{e.GetType().Name} ({inner.Message})" : e.GetType().Name;
                }

                var end = Stopwatch.GetTimestamp();
                var success = status is >= 200 and <= 299;
                window.Completed(success);
                if (end >= window.MeasureStart && end < window.MeasureEnd)
                {
                    if (success)
                    {
                        MeasuredOps++;
                        Histogram.Record((long)Stopwatch.GetElapsedTime(start, end).TotalMicroseconds);
                        if (sleptPastDue is { } late)
                        {
                            TimerLag.Record((long)Stopwatch.GetElapsedTime(0, Math.Max(0, late)).TotalMicroseconds);
                        }
                    }
                    else
                    {
                        MeasuredErrors++;
                        var kind = failure ?? $"{status} {StatusName(status)}";
                        ErrorKinds[kind] = ErrorKinds.GetValueOrDefault(kind) + 1;
                    }
                }

                if (end >= window.MeasureEnd)
                {
                    return;
                }
            }
        }
    }
}
