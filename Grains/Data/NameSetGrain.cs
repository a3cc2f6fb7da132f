using OrleansCompute.Data;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// A durable set of names (see <see cref="NameSets"/>). Sets hold tens to thousands of names and
/// are listed rarely, so a listing sorts in memory rather than keeping a sorted structure in state.
/// </summary>
public sealed class NameSetGrain(
    [PersistentState("names", StorageNames.Default)] IPersistentState<NameSetGrain.State> state) : Grain, INameSetGrain
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
        Task.FromResult(NamePage.Of(state.State.Names.Concat(NameSets.Implicit(this.GetPrimaryKeyString())), after, limit));

    [GenerateSerializer, Alias("oc.NameSetGrain.State")]
    public sealed class State
    {
        [Id(0)] public HashSet<string> Names { get; set; } = new(StringComparer.Ordinal);
    }
}
