using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// Deletes jobs that ended longer than <see cref="JobOptions.RetainEndedFor"/> ago, on every silo,
/// in bounded batches. Each deletion goes through the job's grain, as <c>DELETE /v1/jobs/{id}</c>
/// does, so an activation still in memory stops showing the job too. Running on every silo is
/// harmless (a job deleted twice is simply not found the second time).
/// </summary>
public sealed partial class JobRetention(
    IJobStore store, IGrainFactory grains, IOptions<JobOptions> options, TimeProvider clock, ILogger<JobRetention> logger) : BackgroundService
{
    private const int BatchSize = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RetentionSweepPeriod, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogSweepFailed(e);
            }
        }
    }

    /// <summary>Deletes every job past its retention; answers how many.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var deleted = 0;
        int full, deletedNow;
        do
        {
            var batch = await store.ListEndedBeforeAsync(clock.GetUtcNow() - options.Value.RetainEndedFor, BatchSize, cancellationToken);
            full = batch.Count;
            deletedNow = 0;
            foreach (var (tenant, jobId) in batch)
            {
                if (await grains.GetGrain<IJobGrain>(TenantKey.For(tenant, jobId)).DeleteAsync(cancellationToken) == JobDeleteOutcome.Deleted)
                {
                    deletedNow++;
                }
            }

            deleted += deletedNow;
        }
        while (full == BatchSize && deletedNow > 0); // another silo's sweep may have taken this batch: stop when nothing was left

        if (deleted > 0)
        {
            LogDeleted(deleted, options.Value.RetainEndedFor);
        }

        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Jobs} jobs that ended more than {Retention} ago")]
    private partial void LogDeleted(int jobs, TimeSpan retention);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting expired jobs failed; trying again next period")]
    private partial void LogSweepFailed(Exception exception);
}
