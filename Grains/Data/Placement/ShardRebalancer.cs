using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCompute.Data;

namespace OrleansCompute.Grains.Data.Placement;

/// <summary>
/// Moves this silo's shards to where <see cref="ShardLayout"/> puts them for the active silos:
/// after the membership has been quiet for <see cref="KeyValueOptions.RebalanceSettle"/> (so a
/// flapping silo moves nothing), and every <see cref="KeyValueOptions.RebalancePeriod"/> to catch
/// a shard placed from a stale view. Each silo moves only its own shards, at most
/// <see cref="KeyValueOptions.MaxMovesInFlight"/> at once, and every silo computes the same layout,
/// so no two silos ever pull one shard back and forth once their views agree.
///
/// When the silo stops, it first drains: every shard moves to the others, and only then does the
/// silo deactivate what is left. Nobody waits for its lease.
/// </summary>
public sealed partial class ShardRebalancer(
    IClusterMembershipService membership,
    IGrainFactory grains,
    ILocalSiloDetails silo,
    LocalShards local,
    IOptions<KeyValueOptions> options,
    IMeterFactory meters,
    ILogger<ShardRebalancer> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>The meter of the sharded store's placement.</summary>
    public const string MeterName = "OrleansCompute.Data";

    private readonly Meter _meter = meters.Create(MeterName);
    private readonly Counter<long> _moves = meters.Create(MeterName).CreateCounter<long>("oc_shard_moves", description: "Shard moves this silo started that landed on another silo, by reason (rebalance, drain).");
    private readonly Histogram<double> _handover = meters.Create(MeterName).CreateHistogram<double>(
        "oc_shard_handover_duration", unit: "s", description: "From asking a shard to move until it answers from its new silo: the longest any of its keys waited.");

    // How long a move may take to land before this round gives up on it; the next round tries again.
    private static readonly TimeSpan MoveDeadline = TimeSpan.FromSeconds(10);

    // How long one move of a draining silo may take to land before the drain gives up.
    private static readonly TimeSpan DrainMoveDeadline = TimeSpan.FromSeconds(3);

    // How long a stopping silo spends draining, within the host's shutdown budget.
    private static readonly TimeSpan DrainBudget = TimeSpan.FromSeconds(15);

    private readonly CancellationTokenSource _stopping = new();
    private long _lastChange = Stopwatch.GetTimestamp();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _watch;
    private Task? _loop;

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(ShardRebalancer), ServiceLifecycleStage.Active, StartAsync, _ => Task.CompletedTask);
        // Stops run from the highest stage down, so this drains while the silo is still fully active.
        lifecycle.Subscribe(nameof(ShardRebalancer) + ".Drain", ServiceLifecycleStage.Active + 100, _ => Task.CompletedTask, DrainAsync);
        _meter.CreateObservableGauge("oc_shards_hosted", () => local.Keys.Count, description: "Shard activations on this silo.");
        // Counted from zero, so rate() and alerts see the series before the first move.
        _moves.Add(0, new KeyValuePair<string, object?>("reason", "rebalance"));
        _moves.Add(0, new KeyValuePair<string, object?>("reason", "drain"));
        _meter.CreateObservableGauge("oc_shard_moves_in_flight", () => local.MovesInFlight, description: "Shard moves this silo has started and not yet seen land.");
    }

    private Task StartAsync(CancellationToken cancellationToken)
    {
        // On the thread pool: the lifecycle may start us from a scheduling context that does not outlive the start.
        _watch = Task.Run(() => WatchMembershipAsync(_stopping.Token));
        _loop = Task.Run(() => RebalanceLoopAsync(_stopping.Token));
        return Task.CompletedTask;
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        local.Draining = true;
        await _stopping.CancelAsync();
        // Both end on cancellation and catch their own faults.
        await Task.WhenAll(new[] { _watch, _loop }.OfType<Task>());
        if (ActiveSilos().Length < 2)
        {
            return;
        }

        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(DrainBudget);
        var shards = local.Keys.ToList();
        var started = Stopwatch.GetTimestamp();
        var moved = await MoveAllAsync(shards, "drain", budget.Token, giveUpOnFailure: true);
        LogDrained(moved, shards.Count, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private async Task WatchMembershipAsync(CancellationToken stopping)
    {
        try
        {
            var activeBefore = "";
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stopping))
            {
                // Only the set of active silos decides the layout. Other updates (suspicion votes,
                // heartbeats) change the membership version too, and must not hold rebalancing off.
                var active = string.Join(',', snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress.ToParsableString()).Order(StringComparer.Ordinal));
                if (active == activeBefore)
                {
                    continue;
                }

                activeBefore = active;
                Volatile.Write(ref _lastChange, Stopwatch.GetTimestamp());
                Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task RebalanceLoopAsync(CancellationToken stopping)
    {
        var settle = options.Value.RebalanceSettle;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                // Quiet membership first: moves follow a settled view, not every step of a flap.
                var quietFor = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastChange));
                if (quietFor < settle)
                {
                    await Task.Delay(settle - quietFor, stopping);
                    continue;
                }

                await RebalanceAsync(stopping);
                var changed = Volatile.Read(ref _changed).Task;
                await Task.WhenAny(changed, Task.Delay(options.Value.RebalancePeriod, stopping));
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Placement goes on without rebalancing; a restart of the silo starts it again.
            LogLoopFailed(ex);
        }
    }

    private async Task RebalanceAsync(CancellationToken stopping)
    {
        var active = ActiveSilos();
        if (Array.IndexOf(active, silo.SiloAddress) < 0)
        {
            LogNotActive();
            return;
        }

        var hosted = local.Keys.ToList();
        var misplaced = hosted
            .Where(key => !ShardPlacementDirector.Place(ShardMap.Parse(key), active, silo.SiloAddress, draining: false).Equals(silo.SiloAddress))
            .ToList();
        LogRound(hosted.Count, misplaced.Count, active.Length);
        if (misplaced.Count > 0)
        {
            var started = Stopwatch.GetTimestamp();
            var moved = await MoveAllAsync(misplaced, "rebalance", stopping);
            LogRebalanced(moved, misplaced.Count, active.Length, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private SiloAddress[] ActiveSilos() =>
        [.. membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress)];

    // A drain gives up at the first move that does not land: when the whole cluster stops at once
    // (compose down, a test's teardown) every other silo is stopping too, and waiting out each move
    // would only hold the shutdown. What is left deactivates and releases its shard; no lease wait.
    private async Task<int> MoveAllAsync(IReadOnlyList<string> shards, string reason, CancellationToken cancellationToken, bool giveUpOnFailure = false)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cancellationToken = failed.Token;
        using var gate = new SemaphoreSlim(options.Value.MaxMovesInFlight);
        var moved = await Task.WhenAll(shards.Select(async key =>
        {
            try
            {
                await gate.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            try
            {
                var landed = await MoveAsync(key, reason, giveUpOnFailure ? DrainMoveDeadline : MoveDeadline, cancellationToken);
                if (!landed && giveUpOnFailure)
                {
                    await failed.CancelAsync();
                }

                return landed;
            }
            finally
            {
                gate.Release();
            }
        }));
        return moved.Count(m => m);
    }

    // Asks the shard to move and waits until it answers from another silo: then no key of it waits any more.
    private async Task<bool> MoveAsync(string key, string reason, TimeSpan deadline, CancellationToken cancellationToken)
    {
        using var tracked = local.TrackMove();
        var started = Stopwatch.GetTimestamp();
        var shard = grains.GetGrain<IShardGrain>(key);
        try
        {
            await shard.MoveAsync(cancellationToken);
            var here = silo.SiloAddress.ToParsableString();
            while (Stopwatch.GetElapsedTime(started) < deadline)
            {
                var info = await shard.DescribeAsync(cancellationToken);
                if (info.Silo != here)
                {
                    var took = Stopwatch.GetElapsedTime(started);
                    _handover.Record(took.TotalSeconds, new KeyValuePair<string, object?>("reason", reason));
                    _moves.Add(1, new KeyValuePair<string, object?>("reason", reason));
                    local.CountCompletedMove();
                    LogMoved(key, info.Silo, took.TotalMilliseconds, reason);
                    return true;
                }

                if (!local.Keys.Contains(key))
                {
                    // Gone from here and not yet answering elsewhere: the handover is under way.
                    await Task.Delay(10, cancellationToken);
                    continue;
                }

                await Task.Delay(50, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogMoveFailed(ex, key);
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Rebalance round skipped: this silo is not active in its own view of the membership")]
    private partial void LogNotActive();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Rebalance round: {Hosted} shards here, {Misplaced} misplaced, {Silos} active silos")]
    private partial void LogRound(int hosted, int misplaced, int silos);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Moved shard {Shard} to {Silo} in {Milliseconds:F0} ms ({Reason})")]
    private partial void LogMoved(string shard, string silo, double milliseconds, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rebalanced {Moved} of {Misplaced} misplaced shards over {Silos} active silos in {Seconds:F1} s")]
    private partial void LogRebalanced(int moved, int misplaced, int silos, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drained {Moved} of {Shards} shards to the other silos in {Seconds:F1} s")]
    private partial void LogDrained(int moved, int shards, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not move shard {Shard}; the next round tries again")]
    private partial void LogMoveFailed(Exception exception, string shard);

    [LoggerMessage(Level = LogLevel.Error, Message = "The shard rebalancer stopped; shards stay where they are until this silo restarts")]
    private partial void LogLoopFailed(Exception exception);
}
