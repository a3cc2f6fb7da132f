using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs;

[StatelessWorker]
public sealed class TaskKindCatalogGrain(TaskKinds kinds) : Grain, ITaskKindCatalogGrain
{
    public Task<IReadOnlyList<TaskKindInfo>> ListAsync(CancellationToken cancellationToken = default) => Task.FromResult(kinds.Describe());
}
