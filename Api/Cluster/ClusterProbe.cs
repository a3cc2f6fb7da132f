using Orleans.Runtime;

namespace OrleansCompute.Api.Cluster;

/// <summary>
/// Asks the cluster for its active silos every couple of seconds. One cheap call per Api instance
/// keeps <see cref="ClusterConnection"/> true to what a request would see, in both directions:
/// it notices the first silo coming up and the last one going away.
/// </summary>
public sealed partial class ClusterProbe(
    IGrainFactory grains, ClusterConnection connection, ILogger<ClusterProbe> logger) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            var wasConnected = connection.IsConnected;
            try
            {
                var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(CallTimeout, stoppingToken);
                if (hosts.Count > 0)
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to the cluster")]
    private partial void LogConnected();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the cluster: {Error}: {Message}")]
    private partial void LogLost(string error, string message);
}
