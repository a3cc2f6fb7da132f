using Microsoft.Extensions.Options;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Security;

/// <summary>
/// Embedded mode without <c>Auth__AdminKey</c>: once the cluster is reachable, generates an admin
/// key, stores only its hash (as the key record "bootstrap", through the cluster's store) and
/// prints the key once. Later starts find the record and print nothing: the key was shown once.
/// With <c>Auth__AdminKey</c> set, or in PostgreSQL mode (which requires it), this does nothing.
/// </summary>
public sealed partial class BootstrapAdminKeyService(
    IOptions<AuthOptions> options,
    IConfiguration configuration,
    IGrainFactory grains,
    ClusterConnection connection,
    TimeProvider clock,
    ILogger<BootstrapAdminKeyService> logger) : BackgroundService
{
    public const string KeyId = "bootstrap";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!string.IsNullOrEmpty(options.Value.AdminKey) || !string.IsNullOrWhiteSpace(configuration.GetConnectionString("Postgres")))
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        while (!connection.IsConnected && await timer.WaitForNextTickAsync(stoppingToken))
        {
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var grain = grains.GetGrain<IApiKeyGrain>(KeyId);
                if (await grain.GetAsync(stoppingToken) is not null)
                {
                    return;
                }

                var (id, key, hash) = ApiKeys.Generate(KeyId);
                var record = new ApiKeyRecord(id, TenantKey.DefaultTenant, "bootstrap admin", Scopes.All, hash, clock.GetUtcNow());
                if (await grain.CreateAsync(record, stoppingToken))
                {
                    LogGenerated();
                    Console.WriteLine($"Generated admin API key (shown once, only its hash is stored): {key}");
                }

                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogRetry(ex.Message);
                await timer.WaitForNextTickAsync(stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No Auth__AdminKey set: generated an admin API key and printed it once on standard output (logs never carry it)")]
    private partial void LogGenerated();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not set up the generated admin key yet: {Reason}")]
    private partial void LogRetry(string reason);
}
