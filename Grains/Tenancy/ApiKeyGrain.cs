using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Tenancy;

/// <summary>Holds one key's record (its hash, tenant and scopes) for verification by the Api.</summary>
public sealed class ApiKeyGrain(
    [PersistentState("key", StorageNames.Default)] IPersistentState<ApiKeyGrain.State> state,
    TimeProvider clock) : Grain, IApiKeyGrain
{
    public async Task<bool> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        if (state.State.Key is not null || key.Id != this.GetPrimaryKeyString())
        {
            return false;
        }

        state.State.Key = key;
        await state.WriteStateAsync(cancellationToken);
        return true;
    }

    public Task<ApiKeyRecord?> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(state.State.Key);

    public async Task<bool> RevokeAsync(string tenant, CancellationToken cancellationToken = default)
    {
        if (state.State.Key is not { } key || key.Tenant != tenant)
        {
            return false;
        }

        if (key.RevokedAt is null)
        {
            state.State.Key = key with { RevokedAt = clock.GetUtcNow() };
            await state.WriteStateAsync(cancellationToken);
        }

        return true;
    }

    [GenerateSerializer, Alias("oc.ApiKeyGrain.State")]
    public sealed class State
    {
        [Id(0)] public ApiKeyRecord? Key { get; set; }
    }
}
