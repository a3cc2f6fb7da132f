using Npgsql;

namespace OrleansCompute.Silo.Storage;

/// <summary>
/// Brings the schema up to date before Orleans starts (it is registered ahead of the silo, and
/// hosted services start in order), because the Orleans providers read their queries from the
/// database as they initialise. A database that is not reachable yet is retried for a while, so
/// silos may start before PostgreSQL is up.
/// </summary>
public sealed partial class SchemaMigrationService(
    SiloSettings settings, SchemaMigrator migrator, ILogger<SchemaMigrationService> logger) : IHostedService
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(2);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + GiveUpAfter;
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                var applied = settings.PostgresConnectionString is { } postgres
                    ? await migrator.MigratePostgresAsync(postgres, cancellationToken)
                    : await migrator.MigrateSqliteAsync(settings.SqliteConnectionString, cancellationToken);
                LogSchemaReady(settings.IsEmbedded ? "SQLite" : "PostgreSQL", applied.Count);
                return;
            }
            catch (NpgsqlException ex) when (ex.IsTransient && DateTime.UtcNow < deadline)
            {
                LogDatabaseUnavailable(ex.Message, delay);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "{Store} schema is current ({Applied} steps applied now)")]
    private partial void LogSchemaReady(string store, int applied);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database not reachable yet ({Reason}); retrying in {Delay}")]
    private partial void LogDatabaseUnavailable(string reason, TimeSpan delay);
}
