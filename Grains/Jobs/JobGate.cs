using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Jobs;

/// <summary>What a queued job waits for: nothing (it may start), a time, a dependency, or nothing ever again (it fails).</summary>
public sealed record GateDecision(string? Failure = null, TimeSpan? RunIn = null, string? Dependency = null, long SeenVersion = 0)
{
    public static readonly GateDecision Open = new();
}

/// <summary>
/// When a queued job may start: at <c>runAt</c>, once every dependency succeeded; it fails when one
/// failed. One per job activation; it runs on the grain's scheduler. Timers are not durable: the
/// recovery reminder re-activates the job, which checks again.
/// </summary>
/// <param name="queued">Whether the job still waits (the grain's state and activation).</param>
/// <param name="armTimer">Arms the grain's one-shot runAt timer.</param>
/// <param name="decided">Starts or fails the job.</param>
/// <param name="failed">Logs a check that failed; the watchdog tries again (<see cref="RetryIfFailedAsync"/>).</param>
public sealed class JobGate(
    IGrainFactory grains, string tenant, JobSpec spec, TimeProvider clock,
    Func<bool> queued, Action<TimeSpan, Func<Task>> armTimer, Func<string?, Task> decided, Action<Exception> failed)
{
    // Timers are capped at a day; a longer wait re-arms.
    private static readonly TimeSpan LongestTimer = TimeSpan.FromDays(1);

    private readonly HashSet<string> _awaited = new(StringComparer.Ordinal);
    private bool _failed;

    /// <summary>Checks runAt and the dependencies, and starts, fails, or arranges to check again.</summary>
    public async Task CheckAsync()
    {
        try
        {
            _failed = false;
            var gate = queued() ? await DecideAsync(grains, tenant, spec, clock.GetUtcNow()) : null;
            if (gate is null || !queued())
            {
                return;
            }

            if (gate.RunIn is { } due)
            {
                armTimer(due, CheckAsync);
            }
            else if (gate.Dependency is { } dependency)
            {
                if (_awaited.Add(dependency))
                {
                    await AwaitDependencyAsync(dependency, gate.SeenVersion);
                }
            }
            else
            {
                await decided(gate.Failure);
            }
        }
        catch (Exception e)
        {
            _failed = true;
            failed(e);
        }
    }

    /// <summary>The watchdog's tick: only a failed check is tried again (timers and dependency waits move the job on otherwise).</summary>
    public Task RetryIfFailedAsync() => _failed ? CheckAsync() : Task.CompletedTask;

    /// <summary>The decision for <paramref name="spec"/> at <paramref name="now"/>, asking each dependency in turn.</summary>
    public static async Task<GateDecision> DecideAsync(IGrainFactory grains, string tenant, JobSpec spec, DateTimeOffset now)
    {
        if (spec.RunAt is { } runAt && runAt > now)
        {
            return new GateDecision(RunIn: runAt - now > LongestTimer ? LongestTimer : runAt - now);
        }

        foreach (var dependency in spec.DependsOn)
        {
            var view = await grains.GetGrain<IJobGrain>(TenantKey.For(tenant, dependency)).GetAsync();
            if (view is null || view.Status is JobStatus.Failed or JobStatus.Cancelled)
            {
                return new GateDecision($"dependency '{dependency}' {(view is null ? "does not exist" : $"ended {view.Status.Name()}")}");
            }

            if (view.Status != JobStatus.Succeeded)
            {
                return new GateDecision(Dependency: dependency, SeenVersion: view.Version);
            }
        }

        return GateDecision.Open;
    }

    // Follows the dependency's change feed until it ends (or the job stops waiting), then checks again.
    private async Task AwaitDependencyAsync(string dependency, long seen)
    {
        try
        {
            var job = grains.GetGrain<IJobGrain>(TenantKey.For(tenant, dependency));
            while (queued())
            {
                try
                {
                    var view = await job.WaitForChangeAsync(seen, TimeSpan.FromSeconds(15));
                    if (view is null || view.Status.IsTerminal())
                    {
                        break;
                    }

                    seen = view.Version;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    failed(e);
                    await Task.Delay(TimeSpan.FromSeconds(1), clock);
                }
            }
        }
        finally
        {
            _awaited.Remove(dependency);
        }

        await CheckAsync();
    }
}
