using Npgsql;

namespace OrleansCompute.Bench;

/// <summary>Counters of the benchmarked database at one instant.</summary>
/// <param name="Commits">pg_stat_database.xact_commit of the current database.</param>
/// <param name="NextXid">The next transaction id to be assigned: its growth counts transactions that wrote, cluster-wide, exactly and without delay.</param>
public readonly record struct PgSnapshot(long Commits, long NextXid);

/// <summary>
/// Reads PostgreSQL's commit counter around a measured window (SPEC §6: commits per operation).
/// </summary>
/// <remarks>
/// pg_stat_database is not live: each backend folds its counts into shared statistics at most
/// once per second while busy, and an idle backend only after 10 s (PGSTAT_IDLE_INTERVAL). Two
/// ways to read it fairly follow from that:
/// <list type="bullet">
/// <item>Clients that keep pooled connections open (the Api and silos): read at both edges of the
/// window while the load is still running, so each reading lags by the same ~1 s of traffic and
/// the lags cancel (<see cref="ReadAsync"/>). Waiting for the counter to settle after the load
/// stops would not help: the last second of every pooled connection shows up 10 s later.</item>
/// <item>Clients whose backends exit at the end (pgbench): a backend flushes when it exits, so read
/// after the run and wait until the counter stops moving (<see cref="ReadSettledAsync"/>).</item>
/// </list>
/// The next transaction id has no such delay and is reported beside it as write transactions.
/// </remarks>
public sealed class PgStats(string connectionString)
{
    private const string Query = """
        SELECT pg_stat_clear_snapshot();
        SELECT xact_commit, pg_snapshot_xmax(pg_current_snapshot())::text::bigint
        FROM pg_stat_database WHERE datname = current_database();
        """;

    public string ConnectionString => connectionString;

    /// <summary>Opens a connection once to fail early with a clear message.</summary>
    public async Task<string> DescribeAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT current_database() || ' on ' || split_part(version(), ' ', 2)", connection);
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<PgSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(Query, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("pg_stat_database has no row for the current database");
        }

        return new PgSnapshot(reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Reads until two readings 200 ms apart agree, for at most <paramref name="maxWait"/>.</summary>
    public async Task<PgSnapshot> ReadSettledAsync(TimeSpan maxWait, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + maxWait;
        var last = await ReadAsync(cancellationToken);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            var next = await ReadAsync(cancellationToken);
            // Our own reading is one commit; anything beyond that is someone else's late flush.
            if (next.Commits - last.Commits <= 1)
            {
                return next;
            }

            last = next;
        }

        return last;
    }
}
