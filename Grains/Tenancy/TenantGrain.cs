using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Tenancy;

/// <summary>
/// One tenant and its key list. The key grain is written before the list, so a listed key always
/// verifies; revocation goes to the key grain first, so a key the list shows revoked is revoked.
/// </summary>
public sealed class TenantGrain(
    [PersistentState("tenant", StorageNames.Default)] IPersistentState<TenantGrain.State> state,
    TimeProvider clock) : Grain, ITenantGrain
{
    private string Name => this.GetPrimaryKeyString();

    public async Task<bool> CreateAsync(CancellationToken cancellationToken = default)
    {
        if (state.State.CreatedAt is not null || Name == TenantKey.DefaultTenant)
        {
            return false;
        }

        state.State.CreatedAt = clock.GetUtcNow();
        await state.WriteStateAsync(cancellationToken);
        await GrainFactory.GetGrain<INameSetGrain>(NameSets.Tenants).AddAsync(Name, cancellationToken);
        return true;
    }

    public Task<TenantInfo?> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(Info());

    public async Task<ApiKeyInfo?> AddKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        if (Info() is null || key.Tenant != Name)
        {
            return null;
        }

        if (!await GrainFactory.GetGrain<IApiKeyGrain>(key.Id).CreateAsync(key, cancellationToken))
        {
            throw new InvalidOperationException($"API key id {key.Id} is already taken.");
        }

        var info = new ApiKeyInfo(key.Id, key.Name, key.Scopes, key.CreatedAt, null);
        state.State.Keys.Add(info);
        await state.WriteStateAsync(cancellationToken);
        return info;
    }

    public Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<ApiKeyInfo>>([.. state.State.Keys]);

    public async Task<bool> RevokeKeyAsync(string keyId, CancellationToken cancellationToken = default)
    {
        var index = state.State.Keys.FindIndex(k => k.Id == keyId);
        if (index < 0)
        {
            return false;
        }

        await GrainFactory.GetGrain<IApiKeyGrain>(keyId).RevokeAsync(Name, cancellationToken);
        if (state.State.Keys[index].RevokedAt is null)
        {
            state.State.Keys[index] = state.State.Keys[index] with { RevokedAt = clock.GetUtcNow() };
            await state.WriteStateAsync(cancellationToken);
        }

        return true;
    }

    // The default tenant exists from the start: the bootstrap admin key acts for it.
    private TenantInfo? Info() =>
        state.State.CreatedAt is { } created ? new TenantInfo(Name, created)
        : Name == TenantKey.DefaultTenant ? new TenantInfo(Name, DateTimeOffset.UnixEpoch)
        : null;

    [GenerateSerializer, Alias("oc.TenantGrain.State")]
    public sealed class State
    {
        [Id(0)] public DateTimeOffset? CreatedAt { get; set; }

        [Id(1)] public List<ApiKeyInfo> Keys { get; set; } = [];
    }
}
