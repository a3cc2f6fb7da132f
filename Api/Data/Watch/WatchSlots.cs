using Microsoft.Extensions.Options;
using OrleansCompute.Api.Tenancy;

namespace OrleansCompute.Api.Data.Watch;

/// <summary>The watch streams each tenant holds open through this Api process (<c>Watch__MaxStreamsPerTenant</c>).</summary>
public sealed class WatchSlots(IOptions<WatchLimits> limits) : TenantSlots(() => limits.Value.MaxStreamsPerTenant);
