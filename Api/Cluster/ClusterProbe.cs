using OrleansCompute.Cluster;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Api.Cluster;

/// <summary>
/// Asks the cluster for its active silos every couple of seconds. One cheap call per Api instance
/// keeps <see cref="ClusterConnection"/> true to what a request would see, in both directions:
/// it notices the first silo coming up and the last one going away.
/// <para>
/// The question goes to a stateless worker (<see cref="IClusterPingGrain"/>), and to up to
/// <see cref="Attempts"/> of them with different keys, which the client sends through different
/// gateways: one paused or cut-off silo must not make the Api answer every request 503 (it did
/// when the probe asked the management grain, a single activation that may live on that silo).
/// </para>
/// <para>
/// Each answer also carries the silo's mapping of the store's clock, from which this Api maps its
/// own (<see cref="StoreClock"/>): requests then carry their deadline on that clock too, so a silo
/// can tell work held on its way (in a cut, or in a paused silo's socket) from fresh work.
/// </para>
/// </summary>
public sealed partial class ClusterProbe(
    IGrainFactory grains, ClusterConnection connection, StoreClock storeClock, ILogger<ClusterProbe> logger) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);
    private const int Attempts = 3;

    private long _next;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            var wasConnected = connection.IsConnected;
            try
            {
                if (await ActiveSilosAsync(stoppingToken) > 0)
                {
                    connection.MarkConnected();
                }
                else
                {
                    connection.MarkDisconnected();
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                connection.MarkDisconnected();
                if (wasConnected)
                {
                    LogLost(ex.GetType().Name, ex.Message);
                }
            }

            if (connection.IsConnected != wasConnected && connection.IsConnected)
            {
                LogConnected();
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>The active silos by the first answer of up to <see cref="Attempts"/> pings through different gateways; throws the last failure.</summary>
    private async Task<int> ActiveSilosAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // Keys cycle through a few values, so the pings spread over gateways and the stateless
                // workers stay few.
                var key = Interlocked.Increment(ref _next) % 8;
                var sent = System.Diagnostics.Stopwatch.GetTimestamp();
                var ping = await grains.GetGrain<IClusterPingGrain>(key).PingAsync().WaitAsync(CallTimeout, stoppingToken);
                if (ping.StoreNow is { } storeNow)
                {
                    storeClock.Observe(sent, System.Diagnostics.Stopwatch.GetTimestamp(), storeNow);
                }

                return ping.ActiveSilos;
            }
            catch (Exception) when (attempt < Attempts && !stoppingToken.IsCancellationRequested)
            {
                // Another gateway may answer.
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to the cluster")]
    private partial void LogConnected();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the cluster: {Error}: {Message}")]
    private partial void LogLost(string error, string message);
}
