using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// Deletes the rows of dropped tables in the background, in bounded batches, on every silo.
/// Running everywhere is harmless (each batch deletes different rows or none) and means a
/// silo's death mid-purge only delays it.
/// </summary>
public sealed partial class DroppedTablePurger(
    IKeyValueStore store, IOptions<Data.KeyValueOptions> options, ILogger<DroppedTablePurger> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PurgePeriod);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                int purged;
                do
                {
                    purged = await store.PurgeDroppedAsync(options.Value.PurgeBatchSize, stoppingToken);
                    if (purged > 0)
                    {
                        LogPurged(purged);
                    }
                }
                while (purged >= options.Value.PurgeBatchSize);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogPurgeFailed(ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged {Rows} rows of dropped tables")]
    private partial void LogPurged(int rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Purging dropped tables failed; retrying next period")]
    private partial void LogPurgeFailed(Exception exception);
}
