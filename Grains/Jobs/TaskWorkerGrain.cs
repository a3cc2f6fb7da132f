using OrleansCompute.Grains.Placement;
using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// The address of a silo's <see cref="TaskRunner"/>: jobs call the worker keyed by the silo they
/// chose. The runs themselves belong to the runner, so they outlive this activation.
/// </summary>
[Reentrant, SiloBoundPlacement]
public sealed class TaskWorkerGrain(TaskRunner runner) : Grain, ITaskWorkerGrain
{
    public Task StartAsync(TaskAssignment assignment, CancellationToken cancellationToken = default)
    {
        runner.Enqueue(assignment);
        return Task.CompletedTask;
    }

    public Task CancelAsync(string jobKey, int? index, CancellationToken cancellationToken = default)
    {
        runner.Cancel(jobKey, index);
        return Task.CompletedTask;
    }
}
