using Microsoft.Extensions.Options;
using OrleansCompute.Api.Tenancy;

namespace OrleansCompute.Api.Coordination;

/// <summary>The lock acquires and campaigns each tenant has waiting through this Api process (<c>Coordination__MaxWaitersPerTenant</c>).</summary>
public sealed class WaiterSlots(IOptions<CoordinationLimits> limits) : TenantSlots(() => limits.Value.MaxWaitersPerTenant);
