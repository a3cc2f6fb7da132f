using Orleans.Runtime;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// Work a silo repeats every <see cref="Period"/> from its lifecycle stage until the silo stops.
/// It runs on the thread pool: the lifecycle may start a participant from a scheduling context that
/// does not outlive the start. <see cref="RunOnceAsync"/> handles its own faults; the loop ends
/// only when the silo stops.
/// </summary>
public abstract class PeriodicSiloWork(string name, int stage) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    protected abstract TimeSpan Period { get; }

    protected abstract Task RunOnceAsync(CancellationToken stopping);

    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe(name, stage, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
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
        using var timer = new PeriodicTimer(Period);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                await RunOnceAsync(stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }
}
