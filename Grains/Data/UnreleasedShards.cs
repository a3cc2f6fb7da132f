using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCompute.Grains.Data.Storage;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// Shards this silo still holds in the store after their activation here ended, because the release
/// failed (the store unreachable, say during a PostgreSQL outage). A shard is held under this
/// silo's lease (<see cref="SiloLease"/>), and the store gives it to another silo only once it was
/// released or this silo's lease ran out. So while this silo lives, a hold it failed to release
/// keeps the shard from opening anywhere else: the shard's keys were dark until the silo died
/// (defect 16, docs/reliability.md). Every such release is retried here until it lands.
/// <para>
/// Safe: a release names the epoch its activation took, and the store applies it only while that
/// epoch is current, so it never frees a shard that a newer activation (here or elsewhere) opened.
/// What is still pending when the silo stops is freed by the end of its lease.
/// </para>
/// </summary>
public sealed partial class UnreleasedShards(
    IKeyValueStore store,
    IOptions<KeyValueOptions> options,
    ILogger<UnreleasedShards> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<(Guid TableId, int Shard), long> _pending = new();

    /// <summary>Releases still to land.</summary>
    public int Count => _pending.Count;

    /// <summary>Retries the release of <paramref name="shard"/> at <paramref name="epoch"/> until it lands.</summary>
    public void Add(Guid tableId, int shard, long epoch) =>
        _pending.AddOrUpdate((tableId, shard), epoch, (_, pending) => Math.Max(pending, epoch));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.LeaseDuration / 5);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await ReleasePendingAsync(stoppingToken);
        }
    }

    /// <summary>Tries every pending release once; those that land are forgotten.</summary>
    public async Task ReleasePendingAsync(CancellationToken cancellationToken)
    {
        foreach (var ((tableId, shard), epoch) in _pending)
        {
            try
            {
                await store.ReleaseShardAsync(tableId, shard, epoch, cancellationToken);
                _pending.TryRemove(new KeyValuePair<(Guid, int), long>((tableId, shard), epoch));
                LogReleased(tableId, shard, epoch);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogStillUnreleased(ex, tableId, shard);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Released {TableId}/{Shard} (epoch {Epoch}), whose release had failed when its activation here ended")]
    private partial void LogReleased(Guid tableId, int shard, long epoch);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not release {TableId}/{Shard} yet; trying again")]
    private partial void LogStillUnreleased(Exception exception, Guid tableId, int shard);
}
