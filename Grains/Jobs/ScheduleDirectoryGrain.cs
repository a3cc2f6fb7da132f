using OrleansCompute.Data;
using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs;

/// <summary>The names of a tenant's schedules, for the listing.</summary>
public sealed class ScheduleDirectoryGrain(
    [PersistentState("schedules", StorageNames.Default)] IPersistentState<ScheduleDirectoryGrain.State> state) : Grain, IScheduleDirectoryGrain
{
    public async Task AddAsync(string name, CancellationToken cancellationToken = default)
    {
        if (state.State.Names.Add(name))
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public async Task RemoveAsync(string name, CancellationToken cancellationToken = default)
    {
        if (state.State.Names.Remove(name))
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public Task<Page<string>> ListAsync(string? after, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult(NamePage.Of(state.State.Names, after, limit));

    [GenerateSerializer, Alias("oc.ScheduleDirectoryGrain.State")]
    public sealed class State
    {
        [Id(0)] public HashSet<string> Names { get; set; } = new(StringComparer.Ordinal);
    }
}
