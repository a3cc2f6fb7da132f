using Orleans.Runtime;

namespace OrleansCompute.Silo.Health;

/// <summary>
/// Ready once the silo has joined the cluster and is active, and not ready again from the moment
/// it starts shutting down, so load balancers and probes stop sending work before it leaves.
/// </summary>
public sealed class SiloReadiness : ILifecycleParticipant<ISiloLifecycle>
{
    private volatile bool _ready;

    public bool IsReady => _ready;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(
            nameof(SiloReadiness),
            ServiceLifecycleStage.Active,
            _ =>
            {
                _ready = true;
                return Task.CompletedTask;
            },
            _ =>
            {
                _ready = false;
                return Task.CompletedTask;
            });
}
