using Microsoft.Extensions.Options;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Security;

/// <summary>
/// Embedded mode without <c>Auth__AdminKey</c>: once the cluster is reachable, generates an admin
/// key, stores only its hash (as the key record "bootstrap", through the cluster's store) and
/// prints the key once. Later starts find the record and print nothing: the key was shown once.
/// A lost key is replaced by starting with <c>Auth__NewAdminKey=true</c>: a new admin key (a fresh
/// id) is minted and printed once; the lost one stays valid until revoked with the new one.
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
                var bootstrapped = await grains.GetGrain<IApiKeyGrain>(KeyId).GetAsync(stoppingToken) is not null;
                if (bootstrapped && !options.Value.NewAdminKey)
                {
                    return;
                }

                var (id, key, hash) = ApiKeys.Generate(bootstrapped ? null : KeyId);
                var record = new ApiKeyRecord(id, TenantKey.DefaultTenant, bootstrapped ? "recovered admin" : "bootstrap admin", Scopes.All, hash, clock.GetUtcNow());
                if (await grains.GetGrain<IApiKeyGrain>(id).CreateAsync(record, stoppingToken))
                {
                    LogGenerated(id);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "No Auth__AdminKey set: generated the admin API key {KeyId} and printed it once on standard output (logs never carry it)")]
    private partial void LogGenerated(string keyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not set up the generated admin key yet: {Reason}")]
    private partial void LogRetry(string reason);
}
