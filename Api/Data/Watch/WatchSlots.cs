using Microsoft.Extensions.Options;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Data.Watch;

/// <summary>The watch streams each tenant holds open, across all Api processes (<c>Watch__MaxStreamsPerTenant</c>).</summary>
public sealed class WatchSlots(IOptions<WatchLimits> limits, IGrainFactory grains, IOptions<TenantSlotOptions> options, ILogger<WatchSlots> logger)
    : TenantSlots(SlotKinds.WatchStreams, () => limits.Value.MaxStreamsPerTenant, grains, options, logger);
