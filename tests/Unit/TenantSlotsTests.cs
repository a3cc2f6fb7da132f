using System.Reflection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Coordination;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Tests.Unit;

/// <summary>
/// The Api's side of the per-tenant slots, against a stand-in slot grain: what a take answers when
/// the grain refuses, fails or never answers, and what the renewal then tells the grain.
/// </summary>
public class TenantSlotsTests
{
    [Fact]
    public async Task A_take_the_grain_never_answers_is_unavailable_once_its_token_fires_and_the_next_renewal_gives_it_back()
    {
        var grain = FakeSlotsGrain.Create(take: async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return true;
        });
        var slots = Slots(grain);
        using var bound = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        var take = await slots.TryTakeAsync("acme", bound.Token);

        Assert.True(take.IsUnavailable);
        Assert.Null(take.Slot);
        await slots.RenewAsync(CancellationToken.None);
        var renewal = Assert.Single(grain.Renewals);
        Assert.Empty(renewal.Held);
        Assert.Empty(renewal.Pending);
        Assert.Equal(grain.Takes.Single(), renewal.IssuedThrough);
    }

    [Fact]
    public async Task A_take_that_meets_a_cluster_fault_is_unavailable_and_holds_nothing()
    {
        var grain = FakeSlotsGrain.Create(take: (_, _) => Task.FromException<bool>(new TimeoutException("no answer")));

        var take = await Slots(grain).TryTakeAsync("acme", CancellationToken.None);

        Assert.True(take.IsUnavailable);
        Assert.Null(take.Slot);
    }

    [Fact]
    public async Task A_refused_take_is_full_and_an_admitted_one_is_given_back_once_and_renewed_until_then()
    {
        var admit = false;
        var grain = FakeSlotsGrain.Create(take: (_, _) => Task.FromResult(admit));
        var slots = Slots(grain);

        var refused = await slots.TryTakeAsync("acme", CancellationToken.None);
        Assert.False(refused.IsUnavailable);
        Assert.Null(refused.Slot);

        admit = true;
        var taken = await slots.TryTakeAsync("acme", CancellationToken.None);
        Assert.NotNull(taken.Slot);
        await slots.RenewAsync(CancellationToken.None);
        Assert.Equal([grain.Takes[1]], grain.Renewals[^1].Held);

        taken.Slot.Dispose();
        taken.Slot.Dispose();
        Assert.Equal([grain.Takes[1]], grain.Gives);
        await slots.RenewAsync(CancellationToken.None);
        Assert.Empty(grain.Renewals[^1].Held);
        // Nothing held, and that was said: no more renewals for this tenant.
        var renewals = grain.Renewals.Count;
        await slots.RenewAsync(CancellationToken.None);
        Assert.Equal(renewals, grain.Renewals.Count);
    }

    private static WaiterSlots Slots(FakeSlotsGrain grain) => new(
        Options.Create(new CoordinationLimits { MaxWaitersPerTenant = 5 }),
        GrainFactoryOf(grain.Proxy),
        Options.Create(new TenantSlotOptions()),
        NullLogger<WaiterSlots>.Instance);

    private static IGrainFactory GrainFactoryOf(ITenantSlotsGrain grain)
    {
        var factory = DispatchProxy.Create<IGrainFactory, OneGrainFactory>();
        ((OneGrainFactory)(object)factory).Grain = grain;
        return factory;
    }

    /// <summary>An <see cref="IGrainFactory"/> whose every GetGrain answers the one grain.</summary>
    public class OneGrainFactory : DispatchProxy
    {
        public object? Grain { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IGrainFactory.GetGrain) ? Grain : throw new NotSupportedException(targetMethod?.Name);
    }

    /// <summary>A slot grain that records what it is sent and answers takes as told.</summary>
    public class FakeSlotsGrain : DispatchProxy
    {
        private Func<long, CancellationToken, Task<bool>> _take = null!;

        public ITenantSlotsGrain Proxy { get; private set; } = null!;

        public List<long> Takes { get; } = [];

        public List<long> Gives { get; } = [];

        public List<SlotHoldings> Renewals { get; } = [];

        public static FakeSlotsGrain Create(Func<long, CancellationToken, Task<bool>> take)
        {
            var proxy = DispatchProxy.Create<ITenantSlotsGrain, FakeSlotsGrain>();
            var fake = (FakeSlotsGrain)(object)proxy;
            (fake._take, fake.Proxy) = (take, proxy);
            return fake;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            switch (targetMethod?.Name)
            {
                case nameof(ITenantSlotsGrain.TryTakeAsync):
                    Takes.Add((long)args![1]!);
                    return _take((long)args[1]!, (CancellationToken)args[3]!);
                case nameof(ITenantSlotsGrain.GiveAsync):
                    Gives.Add((long)args![1]!);
                    return Task.CompletedTask;
                case nameof(ITenantSlotsGrain.RenewAsync):
                    Renewals.Add((SlotHoldings)args![1]!);
                    return Task.CompletedTask;
                default:
                    throw new NotSupportedException(targetMethod?.Name);
            }
        }
    }
}
