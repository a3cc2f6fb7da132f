namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>The faults of SPEC §8 that the harness injects.</summary>
public enum FaultKind
{
    /// <summary>The silo can reach nothing and nothing can reach it (PostgreSQL, silos, Api).</summary>
    Isolate,

    /// <summary>The silo and the other silos cannot reach each other; PostgreSQL and the Api still reach it.</summary>
    SiloPartition,

    /// <summary>The silo and PostgreSQL cannot reach each other; everything else works.</summary>
    PostgresPartition,

    /// <summary>One direction only: the silo's packets to the other silos (or theirs to it) vanish.</summary>
    OneWay,

    /// <summary>A lossy, slow link: a rate limit that queues (delay) and bursts of dropped packets (loss).</summary>
    LossDelay,

    /// <summary>SIGSTOP, held longer than the shard lease (2 s) and failure detection (~3 s), then SIGCONT.</summary>
    Pause,

    /// <summary>SIGKILL, then the silo is started again.</summary>
    KillRestart,

    /// <summary>PostgreSQL stopped (fast shutdown) for 20 s, then started again.</summary>
    PostgresStop,

    /// <summary>The silo's wall clock steps by ±30 s (libfaketime), then back.</summary>
    ClockSkew,
}

/// <summary>One fault of a schedule: what, on which silo, how long, and the clock step for a skew.</summary>
public sealed record FaultPlan(int Phase, FaultKind Kind, string Target, TimeSpan Duration, int SkewSeconds = 0, bool Inbound = false)
{
    public string Describe() => Kind switch
    {
        FaultKind.PostgresStop => $"postgres-stop {Duration.TotalSeconds:F0}s",
        FaultKind.ClockSkew => $"clock-skew {Target} {SkewSeconds:+0;-0}s {Duration.TotalSeconds:F0}s",
        FaultKind.OneWay => $"one-way {(Inbound ? "silos→" + Target : Target + "→silos")} {Duration.TotalSeconds:F0}s",
        _ => $"{Name(Kind)} {Target} {Duration.TotalSeconds:F0}s",
    };

    public static string Name(FaultKind kind) => kind switch
    {
        FaultKind.Isolate => "isolate",
        FaultKind.SiloPartition => "silo-partition",
        FaultKind.PostgresPartition => "silo-pg-partition",
        FaultKind.OneWay => "one-way",
        FaultKind.LossDelay => "loss-delay",
        FaultKind.Pause => "pause",
        FaultKind.KillRestart => "kill-restart",
        FaultKind.PostgresStop => "postgres-stop",
        FaultKind.ClockSkew => "clock-skew",
        _ => kind.ToString(),
    };
}

/// <summary>
/// The schedule, all drawn from one seed so a run can be replayed: a shuffled round of every
/// fault kind, each on a random silo with a random duration, repeated until the run's length.
/// A soak runs the schedule until its length is up, so the schedule counts each phase at its
/// shortest (the fault and the calm around it): however quickly the service recovers, the run
/// never runs out of faults before its length. It did, when each phase was counted at 25 s more
/// than its fault: once the harness stopped starving its machine, a 30-minute run ended after 18.6.
/// </summary>
public static class FaultSchedule
{
    /// <summary>The least time a phase takes besides its fault: 2 s of calm before, 1 s after the heal.</summary>
    public static readonly TimeSpan ShortestPhaseOverhead = TimeSpan.FromSeconds(3);

    public static List<FaultPlan> Make(int seed, TimeSpan length, bool quick)
    {
        var random = new Random(seed);
        var plans = new List<FaultPlan>();
        var planned = TimeSpan.Zero;
        do
        {
            var round = Enum.GetValues<FaultKind>().OrderBy(_ => random.Next()).ToList();
            foreach (var kind in round)
            {
                var target = Network.Silos[random.Next(Network.Silos.Length)];
                var duration = kind switch
                {
                    FaultKind.PostgresStop => TimeSpan.FromSeconds(20),
                    // Longer than the shard lease and failure detection, the point of the fault.
                    FaultKind.Pause => TimeSpan.FromSeconds(quick ? 8 : random.Next(8, 25)),
                    FaultKind.KillRestart => TimeSpan.FromSeconds(quick ? 2 : random.Next(1, 8)),
                    _ => TimeSpan.FromSeconds(quick ? 6 : random.Next(6, 30)),
                };
                plans.Add(new FaultPlan(plans.Count, kind, target, duration,
                    SkewSeconds: random.Next(2) == 0 ? 30 : -30, Inbound: random.Next(2) == 0));
                planned += duration + ShortestPhaseOverhead;
            }
        }
        while (!quick && planned < length);

        return plans;
    }
}

/// <summary>Puts a planned fault on the cluster, and takes it off (heal).</summary>
public sealed class FaultInjector(FaultCluster cluster, Action<string> log)
{
    private static readonly string[] Everyone = ["pg", "s0", "s1", "s2", "api"];
    private CancellationTokenSource? _flapping;
    private Task _flapper = Task.CompletedTask;

    public async Task StartAsync(FaultPlan plan)
    {
        var net = cluster.Network;
        var s = plan.Target;
        var peers = Network.Silos.Where(x => x != s).ToArray();
        switch (plan.Kind)
        {
            case FaultKind.Isolate:
                CutBothWays(s, Everyone.Where(x => x != s).ToArray());
                break;
            case FaultKind.SiloPartition:
                CutBothWays(s, peers);
                break;
            case FaultKind.PostgresPartition:
                CutBothWays(s, ["pg"]);
                break;
            case FaultKind.OneWay when plan.Inbound:
                net.Drop(peers.Select(peer => (peer, s)));
                break;
            case FaultKind.OneWay:
                net.Drop(s, peers);
                break;
            case FaultKind.LossDelay:
                net.Throttle(s, "400kbit");
                StartFlapping(s, plan.Phase);
                break;
            case FaultKind.Pause:
                cluster.Silo(s).Signal(NodeProcess.SigStop);
                break;
            case FaultKind.KillRestart:
                cluster.HoldDown(s);
                cluster.Silo(s).Kill();
                await cluster.Silo(s).WaitForExitAsync(TimeSpan.FromSeconds(10));
                break;
            case FaultKind.PostgresStop:
                await cluster.StopPostgresAsync();
                break;
            case FaultKind.ClockSkew:
                cluster.SetClockSkew(s, plan.SkewSeconds);
                await VerifySkewAsync(s, plan.SkewSeconds);
                break;
        }
    }

    public async Task HealAsync(FaultPlan plan)
    {
        switch (plan.Kind)
        {
            case FaultKind.LossDelay:
                await StopFlappingAsync();
                cluster.Network.Heal();
                break;
            case FaultKind.Pause:
                cluster.Silo(plan.Target).Signal(NodeProcess.SigCont);
                break;
            case FaultKind.KillRestart:
                cluster.StartSilo(plan.Target);
                break;
            case FaultKind.PostgresStop:
                await cluster.StartPostgresAsync();
                break;
            case FaultKind.ClockSkew:
                cluster.SetClockSkew(plan.Target, 0);
                break;
            default:
                cluster.Network.Heal();
                break;
        }
    }

    /// <summary>Heals everything whatever was planned: the end of a run, or a failure mid-fault.</summary>
    public async Task HealAllAsync()
    {
        await StopFlappingAsync();
        cluster.Network.Heal();
        foreach (var silo in Network.Silos)
        {
            cluster.SetClockSkew(silo, 0);
            try
            {
                cluster.Silo(silo).Signal(NodeProcess.SigCont);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    private void CutBothWays(string node, string[] others) =>
        cluster.Network.Drop(others.SelectMany(other => new[] { (node, other), (other, node) }));

    // Loss without netem (this kernel has none): every 250 ms the link drops everything both ways
    // with probability 0.3, so about 30 % of the time packets vanish, in bursts as on a bad link.
    private void StartFlapping(string silo, int phase)
    {
        _flapping = new CancellationTokenSource();
        var stop = _flapping.Token;
        var random = new Random(phase * 7919 + 17);
        var others = Everyone.Where(x => x != silo).ToArray();
        _flapper = Task.Run(async () =>
        {
            var down = false;
            while (!stop.IsCancellationRequested)
            {
                var next = random.NextDouble() < 0.3;
                if (next != down)
                {
                    var pairs = others.SelectMany(other => new[] { (silo, other), (other, silo) });
                    if (next)
                    {
                        cluster.Network.Drop(pairs);
                    }
                    else
                    {
                        cluster.Network.Undrop(pairs);
                    }

                    down = next;
                }

                try
                {
                    await Task.Delay(250, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
    }

    private async Task StopFlappingAsync()
    {
        _flapping?.Cancel();
        await _flapper;
        _flapping = null;
    }

    /// <summary>The tiny check that .NET honours libfaketime: the skewed silo's Date header is off by the skew.</summary>
    private async Task VerifySkewAsync(string silo, int seconds)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(6);
        TimeSpan? offset = null;
        while (DateTime.UtcNow < deadline)
        {
            offset = await cluster.ClockOffsetAsync(silo);
            if (offset is { } o && Math.Abs(o.TotalSeconds - seconds) < 3)
            {
                log($"clock of {silo} is {o.TotalSeconds:+0;-0} s off (libfaketime, DateTime.UtcNow via the Date header)");
                SkewVerified = true;
                return;
            }

            await Task.Delay(500);
        }

        log($"WARNING: clock of {silo} is not skewed as asked ({seconds} s): offset {offset?.TotalSeconds.ToString("F0") ?? "unknown"}");
    }

    public bool SkewVerified { get; private set; }
}
