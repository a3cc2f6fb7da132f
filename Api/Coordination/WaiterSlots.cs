using Microsoft.Extensions.Options;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Coordination;

/// <summary>The lock acquires and campaigns each tenant has waiting in line, across all Api processes (<c>Coordination__MaxWaitersPerTenant</c>).</summary>
public sealed class WaiterSlots(IOptions<CoordinationLimits> limits, IGrainFactory grains, IOptions<TenantSlotOptions> options, ILogger<WaiterSlots> logger)
    : TenantSlots(SlotKinds.Waiters, () => limits.Value.MaxWaitersPerTenant, grains, options, logger);
