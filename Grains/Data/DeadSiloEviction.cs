using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// Declares a silo dead in Orleans' membership once there is proof that it is gone (its process, or
/// every way to it), instead of waiting for Orleans' own failure detection.
/// <para>
/// Why: on a CPU-starved machine Orleans treats a probe that timed out while the prober's own
/// thread pool stalled as inconclusive, so a SIGKILLed silo stayed Active in the membership for
/// 13 s (and until the restarted process at its address joined and superseded it). All that time
/// the survivors' grain directories still sent its shards' calls to the dead process, and its
/// keys were dark, although the store had freed its shards two seconds after the kill.
/// </para>
/// <para>
/// Proof is one of (checked every fifth of a lease, on each silo):
/// <list type="bullet">
/// <item><b>Superseded</b>: a newer generation at the same endpoint holds a live silo lease. One
/// endpoint has one listening process, so the older one is gone; Orleans concludes the same when
/// the newer one joins, but it writes its membership row only late in its start.</item>
/// <item><b>Lapsed and unreachable</b>: the silo's own lease has run out by the store's clock, and its
/// silo endpoint does not accept a TCP connection within a second: nothing listens there (refused),
/// or the network to it is cut (no answer at all). A busy or paused silo's kernel still accepts
/// connections on its listening socket, so it is never evicted by this rule; SPEC §4.1 says peers
/// must not wrongly declare a busy silo dead.</item>
/// <item><b>Lapsed and stranded</b>: the silo's lease has run out by the store's clock, it accepts
/// connections, and asked (<see cref="IShardHostGrain.ReportLeaseAsync"/>) it says its own lease is
/// not valid even after waiting for a renewal, while this silo's lease has held without a break for
/// longer than the suspect's renewals have failed. So the store answered this silo throughout but
/// never the suspect: it is cut off from the store only. Its peers reach it, so Orleans never votes it
/// dead, and without this rule its keys were dark for as long as the cut lasted. A silo that just
/// woke from a pause renews while it is asked.</item>
/// <item><b>Lapsed and unresponsive</b>: the silo's lease has run out by the store's clock, it
/// accepts connections, it does not answer that question within a second and a half, and this silo
/// has seen its lease lapsed on every check for at least one more lease (so it has not renewed for
/// over two leases, 4 s) while its own lease held all along. A stopped process (SIGSTOP) is that;
/// a busy one is not: it renews its lease on a timer of its own, and a silo that has renewed
/// nothing for 4 s and answers nothing for 1.5 s serves nothing either (SPEC §4.1: peers must not
/// wrongly declare a busy silo dead). Without this rule a paused silo was declared dead only by
/// Orleans' votes, and its keys were dark for 8–15 s of pauses of 8–25 s.</item>
/// <item><b>Cut off from its peers</b>: the silo answers no call from this silo within a second, its
/// endpoint accepts no connection from here, and enough of the other active silos cannot connect to
/// it either that, with this one, they are a majority of the cluster (two of three). Its lease may
/// be live (it still reaches the store), so this only settles Orleans' routing: once declared dead,
/// its next renewal is refused and it exits, and its shards move only after its lease lapsed, as
/// always. Without this rule a silo partitioned from its peers, either way or one way, was
/// declared dead only by Orleans' votes, no sooner than 8 s into the cut (below), and its keys were
/// dark until then. A paused or busy silo's kernel still accepts connections, so this rule leaves it
/// alone too; a silo cannot be declared dead by one peer alone (one of two is no majority).</item>
/// </list>
/// </para>
/// <para>
/// The cut-off case is why this rule does not wait for Orleans' votes: Orleans suppresses a vote
/// against a silo whose connection carried a message within its monitoring window (the longest
/// probe timeout times the missed probes, 8 s here), so a silo cut off from everyone was declared
/// dead no sooner than 8 s into the cut, and its keys were dark all that time. A silo whose lease
/// lapsed while this silo reads the store cannot reach the store, and one that accepts no
/// connection cannot be reached: it serves nothing, and its shards are already free.
/// Neither half alone is proof: after a store outage every lease has lapsed (but every silo
/// accepts, and no silo's own lease has held through the outage), and a silo cut off from its
/// peers only still renews its lease.</para>
/// <para>
/// Safe for the data: nobody takes a shard from a silo whose lease is live, so an evicted silo's
/// shards were already free in the store; eviction only brings Orleans' view in line with it.
/// </para>
/// </summary>
public sealed partial class DeadSiloEviction(
    IKeyValueStore store,
    IClusterMembershipService membership,
    IGrainFactory grains,
    SiloLease lease,
    ILocalSiloDetails silo,
    IOptions<KeyValueOptions> options,
    ILogger<DeadSiloEviction> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(1);

    // Long enough for a silo that just woke to land a renewal (one tick of 400 ms and a round trip).
    private static readonly TimeSpan RenewalPatience = TimeSpan.FromSeconds(0.5);
    public static readonly TimeSpan ReportTimeout = TimeSpan.FromSeconds(1.5);

    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<SiloAddress, long> _lapsedSince = [];
    private Task? _loop;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(DeadSiloEviction), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        // On the thread pool: the lifecycle may start us from a scheduling context that does not outlive the start.
        _loop = Task.Run(() => RunAsync(_stopping.Token));
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_loop is { } loop)
        {
            await loop;
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(options.Value.LeaseDuration / 5);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await EvictProvenDeadAsync(stopping);
                }
                catch (Exception ex) when (!stopping.IsCancellationRequested)
                {
                    // The store unreachable, say: Orleans' own detection still runs; try again next tick.
                    LogCheckFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task EvictProvenDeadAsync(CancellationToken stopping)
    {
        var active = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(silo.SiloAddress))
            .Select(m => m.SiloAddress)
            .ToList();
        if (active.Count == 0)
        {
            return;
        }

        var leases = await store.ReadSiloLeasesAsync(stopping);
        var suspects = Suspects(active, leases);
        TrackLapsed(suspects.Where(s => s.Reason == EvictionReason.Lapsed).Select(s => s.Silo));
        foreach (var (suspect, suspected) in suspects)
        {
            if ((suspected == EvictionReason.Lapsed ? await ConfirmLapsedAsync(suspect, stopping) : suspected) is { } reason)
            {
                await EvictAsync(suspect, reason);
            }
        }

        // The silos the leases show alive, all at once: one of them cut off costs a few seconds.
        var others = active.Where(a => !suspects.Any(s => s.Silo.Equals(a))).ToList();
        var cut = await Task.WhenAll(others.Select(other => IsCutOffAsync(other, active, stopping)));
        foreach (var suspect in others.Where((_, i) => cut[i]))
        {
            await EvictAsync(suspect, EvictionReason.CutOff);
        }
    }

    // Since when, on this silo's monotonic clock, each silo has been seen with a lapsed lease on
    // every check in a row; a silo seen renewing again starts over.
    private void TrackLapsed(IEnumerable<SiloAddress> lapsed)
    {
        var now = Stopwatch.GetTimestamp();
        var seen = lapsed.ToHashSet();
        foreach (var silo in _lapsedSince.Keys.Where(s => !seen.Contains(s)).ToList())
        {
            _lapsedSince.Remove(silo);
        }

        foreach (var silo in seen)
        {
            _lapsedSince.TryAdd(silo, now);
        }
    }

    private async Task EvictAsync(SiloAddress suspect, EvictionReason reason)
    {
        var evicted = await membership.TryKill(suspect);
        LogEvicted(suspect, reason, evicted);
    }

    /// <summary>
    /// Whether <paramref name="suspect"/> answers no call and accepts no connection from here, and
    /// enough of the other <paramref name="active"/> silos cannot connect to it either to make,
    /// with this one, a majority of the cluster.
    /// </summary>
    private async Task<bool> IsCutOffAsync(SiloAddress suspect, IReadOnlyList<SiloAddress> active, CancellationToken stopping)
    {
        var witnesses = active.Where(a => !a.Equals(suspect)).ToList();
        // No majority is possible without enough witnesses, and a silo that answers is reachable: the
        // usual case costs one call, and no connection that Orleans would have to turn away.
        if (!IsMajority(1 + witnesses.Count, active.Count + 1) || await AnswersAsync(suspect, stopping))
        {
            return false;
        }

        var accepts = AcceptsConnectionAsync(suspect.Endpoint, ConnectTimeout, stopping);
        var unreachable = Task.WhenAll(witnesses.Select(witness => CannotReachAsync(witness, suspect, stopping)));
        await Task.WhenAll(accepts, unreachable);
        return !await accepts && IsMajority(1 + (await unreachable).Count(u => u), active.Count + 1);
    }

    /// <summary>Whether <paramref name="votes"/> silos are a majority of a cluster of <paramref name="clusterSize"/> (the suspect counted).</summary>
    public static bool IsMajority(int votes, int clusterSize) => votes > clusterSize / 2;

    private async Task<bool> AnswersAsync(SiloAddress suspect, CancellationToken stopping)
    {
        var (info, error) = await AskAsync(token => grains.GetGrain<IShardHostGrain>(suspect.ToParsableString()).DescribeAsync(token), ConnectTimeout, stopping);
        return error is null && info!.Silo == suspect.ToParsableString();
    }

    // A witness that does not answer in time gives no vote.
    private async Task<bool> CannotReachAsync(SiloAddress witness, SiloAddress suspect, CancellationToken stopping)
    {
        var (reaches, error) = await AskAsync(
            token => grains.GetGrain<IShardHostGrain>(witness.ToParsableString()).ReachesAsync(suspect, ConnectTimeout, token), ReportTimeout, stopping);
        if (error is not null)
        {
            LogNoWitness(witness, suspect, error.GetType().Name);
        }

        return error is null && !reaches;
    }

    /// <summary>
    /// The answer of a call to another silo made within <paramref name="timeout"/>, or the error when
    /// none came in time (paused, starved, or cut off from this silo): by itself, proof of nothing.
    /// </summary>
    private static async Task<(T? Answer, Exception? Error)> AskAsync<T>(Func<CancellationToken, Task<T>> call, TimeSpan timeout, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(timeout);
        try
        {
            return (await call(deadline.Token).WaitAsync(deadline.Token), null);
        }
        catch (Exception ex) when (!stopping.IsCancellationRequested)
        {
            return (default, ex);
        }
    }

    /// <summary>Why a silo whose lease lapsed is dead (it accepts no connection, it is stranded, or it is unresponsive), or null if that is not proven.</summary>
    private async Task<EvictionReason?> ConfirmLapsedAsync(SiloAddress suspect, CancellationToken stopping)
    {
        if (!await AcceptsConnectionAsync(suspect.Endpoint, ConnectTimeout, stopping))
        {
            return EvictionReason.Lapsed;
        }

        var patience = QuestionTimeout(LapsedFor(suspect), options.Value.LeaseDuration);
        if (await AskLeaseAsync(suspect, patience, stopping) is { } report)
        {
            return IsStranded(suspect, report, lease.HeldFor) ? EvictionReason.Stranded : null;
        }

        // Measured after the unanswered question, so its silence counts.
        return IsUnresponsive(LapsedFor(suspect), lease.HeldFor, options.Value.LeaseDuration) ? EvictionReason.Unresponsive : null;
    }

    private TimeSpan LapsedFor(SiloAddress suspect) =>
        _lapsedSince.TryGetValue(suspect, out var since) ? Stopwatch.GetElapsedTime(since) : TimeSpan.Zero;

    /// <summary>
    /// How long to wait for a lapsed suspect's report: at least <see cref="ReportTimeout"/>, and until
    /// it has been seen lapsed for a whole lease, when <see cref="IsUnresponsive"/> can decide. A
    /// question that ended sooner would need a second one, another 1.5 s, before a paused silo could
    /// be declared dead: 5.4 s into a pause at worst, where one question makes it 4.4 s.
    /// </summary>
    public static TimeSpan QuestionTimeout(TimeSpan lapsedFor, TimeSpan leaseDuration)
    {
        // A timer may fire a little before the stopwatch has counted its whole time.
        var untilDecidable = leaseDuration - lapsedFor + TimeSpan.FromMilliseconds(50);
        return untilDecidable > ReportTimeout ? untilDecidable : ReportTimeout;
    }

    /// <summary>The suspect's report of its own lease, or null when no answer came in time (paused, starved, or cut off from this silo).</summary>
    private async Task<SiloLeaseReport?> AskLeaseAsync(SiloAddress suspect, TimeSpan timeout, CancellationToken stopping)
    {
        var (report, error) = await AskAsync(
            token => grains.GetGrain<IShardHostGrain>(suspect.ToParsableString()).ReportLeaseAsync(RenewalPatience, token), timeout, stopping);
        if (error is not null)
        {
            LogNoLeaseReport(suspect, error.GetType().Name);
        }

        return report;
    }

    /// <summary>
    /// Whether a silo that answers nothing is proven stopped rather than busy: this silo has seen its
    /// lease lapsed for <paramref name="lapsedFor"/>, at least one more <paramref name="leaseDuration"/>
    /// (so it has not renewed for two leases and more), while this silo's own lease held all along
    /// (<paramref name="heldFor"/>): the store answered here and never heard from it.
    /// </summary>
    public static bool IsUnresponsive(TimeSpan lapsedFor, TimeSpan heldFor, TimeSpan leaseDuration) =>
        lapsedFor >= leaseDuration && heldFor > lapsedFor + leaseDuration;

    /// <summary>
    /// Whether <paramref name="report"/> proves <paramref name="suspect"/> cut off from the store:
    /// it answered for itself, its lease is not valid, and this silo's lease, held for
    /// <paramref name="heldFor"/>, has held through every renewal the suspect failed to land.
    /// </summary>
    public static bool IsStranded(SiloAddress suspect, SiloLeaseReport report, TimeSpan heldFor) =>
        report.Silo == suspect.ToParsableString() && !report.Valid && heldFor > report.SinceRenewal;

    /// <summary>
    /// The active silos the leases show dead (superseded) or possibly dead (lapsed: to be confirmed by
    /// a connection it does not accept, or by its own report that it cannot renew). A silo without a lease row (not started yet, or stopped gracefully) is none.
    /// </summary>
    public static List<(SiloAddress Silo, EvictionReason Reason)> Suspects(IEnumerable<SiloAddress> active, IReadOnlyList<SiloLeaseState> leases)
    {
        var parsed = leases
            .Select(l => (Address: TryParse(l.Silo), l.Lapsed))
            .Where(l => l.Address is not null)
            .ToList();
        var suspects = new List<(SiloAddress, EvictionReason)>();
        foreach (var member in active)
        {
            if (parsed.Any(l => !l.Lapsed && l.Address!.Endpoint.Equals(member.Endpoint) && l.Address.Generation > member.Generation))
            {
                suspects.Add((member, EvictionReason.Superseded));
            }
            else if (parsed.Any(l => l.Lapsed && l.Address!.Equals(member)))
            {
                suspects.Add((member, EvictionReason.Lapsed));
            }
        }

        return suspects;
    }

    private static SiloAddress? TryParse(string id)
    {
        try
        {
            return SiloAddress.FromParsableString(id);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether <paramref name="endpoint"/> accepts a TCP connection within <paramref name="timeout"/>.
    /// The kernel completes the handshake for a listening socket even while its process is stalled
    /// or stopped, so only a refusal (nothing listens), an unreachable network or silence (a cut)
    /// answers false.
    /// </summary>
    public static async Task<bool> AcceptsConnectionAsync(IPEndPoint endpoint, TimeSpan timeout, CancellationToken stopping)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(endpoint, deadline.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !stopping.IsCancellationRequested)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Declared silo {Silo} dead ({Reason}; evicted now: {Evicted})")]
    private partial void LogEvicted(SiloAddress silo, EvictionReason reason, bool evicted);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Silo}, whose lease lapsed, did not report its lease in time ({Error})")]
    private partial void LogNoLeaseReport(SiloAddress silo, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Witness} did not say in time whether it reaches silo {Silo}, which this silo cannot reach ({Error})")]
    private partial void LogNoWitness(SiloAddress witness, SiloAddress silo, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not check the silo leases for dead silos; Orleans' failure detection still runs")]
    private partial void LogCheckFailed(Exception exception);
}

/// <summary>Why <see cref="DeadSiloEviction"/> declared a silo dead.</summary>
public enum EvictionReason
{
    /// <summary>A newer generation at the same endpoint holds a live lease.</summary>
    Superseded,

    /// <summary>Its lease lapsed, and its endpoint accepts no connection (nothing listens, or the network to it is cut).</summary>
    Lapsed,

    /// <summary>Its lease lapsed, and it says it cannot renew it while this silo's lease held all along: it is cut off from the store only.</summary>
    Stranded,

    /// <summary>It answers no call, and neither this silo nor enough others to make a majority can connect to it: it is cut off from its peers.</summary>
    CutOff,

    /// <summary>Its lease has been lapsed for two leases and more while this silo's held, it accepts connections, and it answers nothing: it is stopped (paused).</summary>
    Unresponsive,
}
