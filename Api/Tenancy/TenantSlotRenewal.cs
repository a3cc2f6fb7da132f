using Microsoft.Extensions.Options;

namespace OrleansCompute.Api.Tenancy;

/// <summary>
/// Renews this Api process's slots of every kind with their grains each
/// <see cref="TenantSlotOptions.RenewPeriod"/>: while it does, the grains count them; once it stops
/// (the process died), they forget them after <see cref="TenantSlotOptions.ForgetAfter"/>.
/// </summary>
public sealed class TenantSlotRenewal(IEnumerable<TenantSlots> kinds, IOptions<TenantSlotOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.Value.RenewPeriod;
        using var timer = new PeriodicTimer(period);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // A round that outlasts its period would delay the next one: each round gets one period.
            using var round = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            round.CancelAfter(period);
            try
            {
                await Task.WhenAll(kinds.Select(k => k.RenewAsync(round.Token)));
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The rest is renewed next round.
            }
        }
    }
}
