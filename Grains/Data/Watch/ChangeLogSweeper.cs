using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCompute.Grains.Data.Storage;

namespace OrleansCompute.Grains.Data.Watch;

/// <summary>
/// Removes changes older than the watch retention from the change log, in bounded batches, on
/// every silo. As with <see cref="DroppedTablePurger"/>, running everywhere is harmless: concurrent
/// sweeps skip each other's rows, and a silo's death only delays the sweep.
/// </summary>
public sealed partial class ChangeLogSweeper(
    IKeyValueStore store, IOptions<WatchOptions> options, TimeProvider clock, ILogger<ChangeLogSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepPeriod);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                int swept;
                do
                {
                    swept = await store.SweepChangesAsync(clock.GetUtcNow() - options.Value.Retention, options.Value.SweepBatchSize, stoppingToken);
                    if (swept > 0)
                    {
                        LogSwept(swept);
                    }
                }
                while (swept >= options.Value.SweepBatchSize);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogSweepFailed(ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Swept {Changes} changes past the watch retention")]
    private partial void LogSwept(int changes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweeping the change log failed; retrying next period")]
    private partial void LogSweepFailed(Exception exception);
}
