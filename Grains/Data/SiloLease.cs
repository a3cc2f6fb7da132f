using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// The one lease that every shard on this silo hangs on (close to CockroachDB's epoch-based
/// leases). A shard row names the silo lease its epoch was taken under; nobody takes a shard from
/// a silo whose lease is live. So while this silo's lease is valid, every epoch it took is still
/// its own, and its shards answer reads from memory without asking the store. After a SIGKILL, all
/// of a silo's shards are free one lease after its last renewal, together, instead of one lease
/// per shard.
///
/// Validity is judged on this silo's monotonic clock, from before the renewal was sent, less a
/// fifth for drift between this clock and the database's. When validity lapsed before a renewal
/// landed (a long pause, the store unreachable), someone may have taken shards over meanwhile:
/// <see cref="Lapses"/> then grows, and each shard confirms its epoch with the store before it
/// answers a read again.
/// </summary>
public sealed partial class SiloLease(
    IKeyValueStore store,
    ILocalSiloDetails silo,
    IOptions<KeyValueOptions> options,
    KvMetrics metrics,
    ILogger<SiloLease> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private long _validUntil;
    private long _heldSince;
    private long _renewedAt;
    private int _lapses;
    private TaskCompletionSource _renewed = NewSignal();
    private readonly TaskCompletionSource _declaredDead = NewSignal();
    private Task? _loop;

    /// <summary>This silo process as the store knows it.</summary>
    public SiloLeaseHolder Holder { get; } = new(
        silo.SiloAddress.ToParsableString(),
        silo.ClusterId,
        silo.SiloAddress.Endpoint.Address.ToString(),
        silo.SiloAddress.Endpoint.Port,
        silo.SiloAddress.Generation);

    /// <summary>True while this silo may answer reads from memory.</summary>
    public bool IsValid => Stopwatch.GetTimestamp() < Volatile.Read(ref _validUntil);

    /// <summary>
    /// Completes when the store refused a renewal because the membership records this silo
    /// process dead: it was voted out while cut off or paused. Such a silo can never hold a lease
    /// again, so its shards can never answer; the host exits so that its supervisor restarts it
    /// as a new silo (Silo/Health/DeclaredDeadExit.cs).
    /// </summary>
    public Task DeclaredDead => _declaredDead.Task;

    /// <summary>
    /// How long the lease has been valid without a break; zero while it is not valid. A peer that
    /// has held its lease for longer than another silo has failed to renew knows the store
    /// answered all that time (<see cref="DeadSiloEviction"/>).
    /// </summary>
    public TimeSpan HeldFor => IsValid ? Stopwatch.GetElapsedTime(Volatile.Read(ref _heldSince)) : TimeSpan.Zero;

    /// <summary>Since the last renewal that landed was sent (since the start if none has).</summary>
    public TimeSpan SinceRenewal => Stopwatch.GetElapsedTime(Volatile.Read(ref _renewedAt));

    /// <summary>How many times validity lapsed before a renewal landed; a shard that checked its epoch at an older count checks again.</summary>
    public int Lapses => Volatile.Read(ref _lapses);

    private TimeSpan Duration => options.Value.LeaseDuration;

    /// <summary>Waits until the lease is valid; false if it is not within <paramref name="patience"/>.</summary>
    public async Task<bool> WaitValidAsync(TimeSpan patience)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(patience.TotalSeconds * Stopwatch.Frequency);
        while (!IsValid)
        {
            var left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return false;
            }

            try
            {
                await Volatile.Read(ref _renewed).Task.WaitAsync(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
            }
            catch (TimeoutException)
            {
                return IsValid;
            }
        }

        return true;
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        // Started before grains can activate, ended after they deactivated and released their shards.
        lifecycle.Subscribe(nameof(SiloLease), ServiceLifecycleStage.RuntimeServices, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _renewedAt, Stopwatch.GetTimestamp());
        // On the thread pool: the lifecycle may start us from a scheduling context that does not outlive the start.
        _loop = Task.Run(() => RenewLoopAsync(_stopping.Token));
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        // First stop answering reads, then let the lease go, so the next holders need not wait it out.
        Volatile.Write(ref _validUntil, 0);
        await _stopping.CancelAsync();
        if (_loop is { } loop)
        {
            await loop;
        }

        try
        {
            await store.EndSiloLeaseAsync(Holder, cancellationToken);
        }
        catch (Exception ex)
        {
            LogEndFailed(ex);
        }
    }

    private async Task RenewLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Duration / 5);
        do
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                if (!await store.RenewSiloLeaseAsync(Holder, Duration, stopping))
                {
                    // Voted dead: Orleans stops this silo as soon as it hears. Until then nothing is served from memory.
                    metrics.LeaseRenewal("refused");
                    LogDeclaredDead();
                    _declaredDead.TrySetResult();
                    continue;
                }

                metrics.LeaseRenewal("ok");
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                metrics.LeaseRenewal("failed");
                LogRenewFailed(ex);
                continue;
            }

            if (started >= Volatile.Read(ref _validUntil))
            {
                Interlocked.Increment(ref _lapses);
                Volatile.Write(ref _heldSince, started);
            }

            Volatile.Write(ref _renewedAt, started);

            Volatile.Write(ref _validUntil, started + (long)(Duration.TotalSeconds * 0.8 * Stopwatch.Frequency));
            Interlocked.Exchange(ref _renewed, NewSignal()).TrySetResult();
        }
        while (await WaitNextAsync(timer, stopping));
    }

    private static async Task<bool> WaitNextAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew this silo's shard lease; its shards answer no reads until a renewal lands")]
    private partial void LogRenewFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The membership records this silo dead; its shard lease is not renewed and runs out")]
    private partial void LogDeclaredDead();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not end this silo's shard lease; it runs out on its own")]
    private partial void LogEndFailed(Exception exception);
}
