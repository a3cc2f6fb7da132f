using System.Data.Common;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace OrleansCompute.Silo.Storage;

/// <summary>
/// Applies the project's schema (deploy/sql, embedded in this assembly) to PostgreSQL or to the
/// embedded SQLite file. Each numbered step runs once, inside one transaction that first takes a
/// database-wide lock, so any number of silos may start at once against an empty database: the
/// first applies the steps, the rest wait and then find nothing to do.
/// A step that was applied is never edited; a changed checksum stops the silo rather than letting
/// two silos run against different schemas.
/// </summary>
public sealed partial class SchemaMigrator(ILogger<SchemaMigrator> logger)
{
    // An arbitrary, fixed key: every OrleansCompute silo serialises its migration on it.
    private const long PostgresLockKey = 0x4f43_5343_4845_4d41; // "OCSCHEMA"

    private const string HistoryTable = "oc_schema_migrations";

    public record Step(string Id, string Sql, string Checksum);

    /// <summary>The steps for one store ("postgres" or "sqlite"), in order.</summary>
    public static IReadOnlyList<Step> StepsFor(string store)
    {
        var prefix = $"sql.{store}.";
        var assembly = typeof(SchemaMigrator).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => ReadStep(assembly, n, n[prefix.Length..^".sql".Length]))
            .ToList();
    }

    /// <summary>Applies pending PostgreSQL steps; returns the ids of the steps this call applied.</summary>
    public async Task<IReadOnlyList<string>> MigratePostgresAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({PostgresLockKey})", cancellationToken);
        await ExecuteAsync(connection, transaction, $"""
            CREATE TABLE IF NOT EXISTS {HistoryTable}
            (
                id         text        NOT NULL PRIMARY KEY,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, cancellationToken);
        var applied = await ApplyPendingAsync(connection, transaction, StepsFor("postgres"), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return applied;
    }

    /// <summary>Applies pending SQLite steps to the embedded store; returns the ids applied.</summary>
    public async Task<IReadOnlyList<string>> MigrateSqliteAsync(string connectionString, CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(builder.DataSource))!);
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);

        // WAL lets one silo read while another writes; it is a property of the file, set once.
        await ExecuteAsync(connection, null, "PRAGMA journal_mode=WAL", cancellationToken);

        // A non-deferred transaction takes SQLite's write lock up front (BEGIN IMMEDIATE), which
        // is the lock other starting silos wait on.
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, $"""
            CREATE TABLE IF NOT EXISTS {HistoryTable}
            (
                id         TEXT NOT NULL PRIMARY KEY,
                checksum   TEXT NOT NULL,
                applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """, cancellationToken);
        var applied = await ApplyPendingAsync(connection, transaction, StepsFor("sqlite"), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return applied;
    }

    private async Task<IReadOnlyList<string>> ApplyPendingAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<Step> steps, CancellationToken cancellationToken)
    {
        var history = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = $"SELECT id, checksum FROM {HistoryTable}";
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                history[reader.GetString(0)] = reader.GetString(1);
            }
        }

        var applied = new List<string>();
        foreach (var step in steps)
        {
            if (history.TryGetValue(step.Id, out var checksum))
            {
                if (checksum != step.Checksum)
                {
                    throw new InvalidOperationException(
                        $"Schema step '{step.Id}' was applied with checksum {checksum} but this build has {step.Checksum}. " +
                        "Applied steps must never change; add a new step instead.");
                }

                continue;
            }

            await ExecuteAsync(connection, transaction, step.Sql, cancellationToken);
            await using var record = connection.CreateCommand();
            record.Transaction = transaction;
            record.CommandText = $"INSERT INTO {HistoryTable} (id, checksum) VALUES (@id, @checksum)";
            AddParameter(record, "id", step.Id);
            AddParameter(record, "checksum", step.Checksum);
            await record.ExecuteNonQueryAsync(cancellationToken);
            applied.Add(step.Id);
            LogApplied(step.Id);
        }

        return applied;
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddParameter(DbCommand command, string name, string value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private static Step ReadStep(Assembly assembly, string resource, string id)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var sql = reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
        var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
        return new Step(id, sql, checksum);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied schema step {StepId}")]
    private partial void LogApplied(string stepId);
}
