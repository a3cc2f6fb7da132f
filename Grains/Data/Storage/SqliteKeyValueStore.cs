using Microsoft.Data.Sqlite;

namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// Rows in the embedded SQLite file (deploy/sql/sqlite/004_key_value.sql). SQLite has one writer
/// at a time: a commit takes the write lock (BEGIN IMMEDIATE), checks the epoch and writes.
/// </summary>
public sealed class SqliteKeyValueStore(string connectionString) : IKeyValueStore
{
    public async Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, string holder, TimeSpan patience, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + patience;
        while (true)
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            (long Epoch, bool Dropped, bool Sealed)? taken = null;
            await using (var take = Command(connection, transaction, """
                INSERT INTO oc_kv_shard (table_id, shard, epoch, holder) VALUES (@table, @shard, 1, @holder)
                ON CONFLICT (table_id, shard) DO UPDATE SET epoch = epoch + 1, holder = excluded.holder
                WHERE dropped <> 0
                   OR (holder IS NULL AND lease_until <= @now)
                   OR holder = excluded.holder
                   OR NOT EXISTS (SELECT 1 FROM oc_kv_silo_lease l WHERE l.silo = oc_kv_shard.holder AND l.lease_until > @now)
                RETURNING epoch, dropped, sealed
                """, tableId, shard))
            {
                take.Parameters.AddWithValue("@now", now);
                take.Parameters.AddWithValue("@holder", holder);
                await using var reader = await take.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    taken = (reader.GetInt64(0), reader.GetInt64(1) != 0, reader.GetInt64(2) != 0);
                }
            }

            if (taken is not { } owned)
            {
                await using var remaining = Command(connection, transaction,
                    """
                    SELECT COALESCE((SELECT l.lease_until FROM oc_kv_silo_lease l WHERE l.silo = s.holder), s.lease_until)
                    FROM oc_kv_shard s WHERE s.table_id = @table AND s.shard = @shard
                    """, tableId, shard);
                var wait = TimeSpan.FromMilliseconds(Math.Max(0, (long)(await remaining.ExecuteScalarAsync(cancellationToken))! - now));
                await transaction.RollbackAsync(cancellationToken);
                if (DateTimeOffset.UtcNow + wait > deadline)
                {
                    throw new ShardFencedException($"shard {tableId}/{shard} is held by another live activation", tableDropped: false);
                }

                await Task.Delay(wait + TimeSpan.FromMilliseconds(20), cancellationToken);
                continue;
            }

            var rows = new List<StoredRow>();
            if (!owned.Dropped)
            {
                await using var load = Command(connection, transaction,
                    "SELECT key, value, version, expires_at, revision FROM oc_kv WHERE table_id = @table AND shard = @shard", tableId, shard);
                await using var reader = await load.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows.Add(new StoredRow(
                        reader.GetString(0),
                        (byte[])reader.GetValue(1),
                        reader.GetInt64(2),
                        reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                        reader.GetInt64(4)));
                }
            }

            var fences = new List<StoredFence>();
            if (!owned.Dropped)
            {
                await using var load = Command(connection, transaction,
                    "SELECT key, lock_name, token FROM oc_kv_fence WHERE table_id = @table AND shard = @shard", tableId, shard);
                await using var reader = await load.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    fences.Add(new StoredFence(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
                }
            }

            long logged, floor;
            await using (var high = Command(connection, transaction, """
                SELECT COALESCE((SELECT max(revision) FROM oc_kv_change WHERE table_id = @table AND shard = @shard), 0),
                       COALESCE((SELECT log_floor FROM oc_kv_shard WHERE table_id = @table AND shard = @shard), 0)
                """, tableId, shard))
            await using (var reader = await high.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                (logged, floor) = (reader.GetInt64(0), reader.GetInt64(1));
            }

            var revision = Math.Max(Math.Max(logged, floor), rows.Count == 0 ? 0 : rows.Max(r => r.Revision));
            await transaction.CommitAsync(cancellationToken);
            return new ShardSnapshot(owned.Epoch, owned.Dropped, rows, owned.Sealed, fences) { Revision = revision, LogFloor = floor };
        }
    }

    // The deadline was checked before the commit was sent; the file is local, so no commit can arrive late.
    public async Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, IReadOnlyList<LoggedChange> changes, long deadline, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var fence = Command(connection, transaction,
            "SELECT epoch, dropped, sealed FROM oc_kv_shard WHERE table_id = @table AND shard = @shard", tableId, shard))
        await using (var reader = await fence.ExecuteReaderAsync(cancellationToken))
        {
            var found = await reader.ReadAsync(cancellationToken);
            if (found && reader.GetInt64(1) != 0)
            {
                throw new ShardFencedException($"table {tableId} was dropped", tableDropped: true);
            }

            if (!found || reader.GetInt64(0) != epoch)
            {
                throw new ShardFencedException($"shard {tableId}/{shard} is no longer owned by epoch {epoch}", tableDropped: false);
            }

            if (reader.GetInt64(2) != 0)
            {
                throw new ShardFencedException($"shard {tableId}/{shard} moved to a new layout", tableDropped: false, moved: true);
            }
        }

        await using var upsert = Command(connection, transaction, """
            INSERT INTO oc_kv (table_id, shard, key, value, version, expires_at, revision)
            VALUES (@table, @shard, @key, @value, @version, @expires, @revision)
            ON CONFLICT (table_id, shard, key) DO UPDATE
            SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at, revision = excluded.revision
            """, tableId, shard);
        var revision = upsert.Parameters.Add("@revision", SqliteType.Integer);
        var key = upsert.Parameters.Add("@key", SqliteType.Text);
        var value = upsert.Parameters.Add("@value", SqliteType.Blob);
        var version = upsert.Parameters.Add("@version", SqliteType.Integer);
        var expires = upsert.Parameters.Add("@expires", SqliteType.Integer);
        await using var delete = Command(connection, transaction,
            "DELETE FROM oc_kv WHERE table_id = @table AND shard = @shard AND key = @key", tableId, shard);
        var deleteKey = delete.Parameters.Add("@key", SqliteType.Text);
        await using var raise = Command(connection, transaction, """
            INSERT INTO oc_kv_fence (table_id, shard, key, lock_name, token) VALUES (@table, @shard, @key, @lock, @token)
            ON CONFLICT (table_id, shard, key, lock_name) DO UPDATE SET token = MAX(token, excluded.token)
            """, tableId, shard);
        var fenceKey = raise.Parameters.Add("@key", SqliteType.Text);
        var fenceLock = raise.Parameters.Add("@lock", SqliteType.Text);
        var fenceToken = raise.Parameters.Add("@token", SqliteType.Integer);

        foreach (var write in writes)
        {
            foreach (var (lockName, token) in write.Fences ?? new Dictionary<string, long>())
            {
                (fenceKey.Value, fenceLock.Value, fenceToken.Value) = (write.Key, lockName, token);
                await raise.ExecuteNonQueryAsync(cancellationToken);
            }

            if (write.Value is null)
            {
                deleteKey.Value = write.Key;
                await delete.ExecuteNonQueryAsync(cancellationToken);
                continue;
            }

            key.Value = write.Key;
            value.Value = write.Value;
            version.Value = write.Version;
            expires.Value = write.ExpiresAt is { } at ? at.ToUnixTimeMilliseconds() : DBNull.Value;
            revision.Value = write.Revision;
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }

        if (changes.Count > 0)
        {
            await using var log = Command(connection, transaction, """
                INSERT INTO oc_kv_change (table_id, shard, revision, key, value, version, changed_at)
                VALUES (@table, @shard, @revision, @key, @value, @version, @at)
                """, tableId, shard);
            var logRevision = log.Parameters.Add("@revision", SqliteType.Integer);
            var logKey = log.Parameters.Add("@key", SqliteType.Text);
            var logValue = log.Parameters.Add("@value", SqliteType.Blob);
            var logVersion = log.Parameters.Add("@version", SqliteType.Integer);
            log.Parameters.AddWithValue("@at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            foreach (var change in changes)
            {
                (logRevision.Value, logKey.Value, logValue.Value, logVersion.Value) = (change.Revision, change.Key, (object?)change.Value ?? DBNull.Value, change.Version);
                await log.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<ChangeLogPage> ReadChangesAsync(Guid tableId, int shard, long after, long through, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        long floor;
        await using (var read = Command(connection, transaction,
            "SELECT COALESCE((SELECT log_floor FROM oc_kv_shard WHERE table_id = @table AND shard = @shard), 0)", tableId, shard))
        {
            floor = (long)(await read.ExecuteScalarAsync(cancellationToken))!;
        }

        var changes = new List<LoggedChange>();
        await using (var read = Command(connection, transaction, """
            SELECT revision, key, value, version FROM oc_kv_change
            WHERE table_id = @table AND shard = @shard AND revision > @after AND revision <= @through
            ORDER BY revision LIMIT @limit
            """, tableId, shard))
        {
            read.Parameters.AddWithValue("@after", after);
            read.Parameters.AddWithValue("@through", through);
            read.Parameters.AddWithValue("@limit", limit);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                changes.Add(new LoggedChange(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : (byte[])reader.GetValue(2), reader.GetInt64(3)));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return new ChangeLogPage(changes, floor);
    }

    public async Task<int> SweepChangesAsync(DateTimeOffset olderThan, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var raise = connection.CreateCommand();
        raise.Transaction = transaction;
        raise.Parameters.AddWithValue("@before", olderThan.ToUnixTimeMilliseconds());
        raise.Parameters.AddWithValue("@limit", batchSize);
        // The floor first, from the very rows the delete then removes (one writer at a time in SQLite).
        raise.CommandText = """
            CREATE TEMP TABLE IF NOT EXISTS oc_kv_change_gone (rid INTEGER PRIMARY KEY);
            DELETE FROM oc_kv_change_gone;
            INSERT INTO oc_kv_change_gone SELECT rowid FROM oc_kv_change WHERE changed_at < @before ORDER BY changed_at LIMIT @limit;
            UPDATE oc_kv_shard SET log_floor = MAX(log_floor, (
                SELECT max(c.revision) FROM oc_kv_change c JOIN oc_kv_change_gone g ON g.rid = c.rowid
                WHERE c.table_id = oc_kv_shard.table_id AND c.shard = oc_kv_shard.shard))
            WHERE EXISTS (SELECT 1 FROM oc_kv_change c JOIN oc_kv_change_gone g ON g.rid = c.rowid
                          WHERE c.table_id = oc_kv_shard.table_id AND c.shard = oc_kv_shard.shard);
            DELETE FROM oc_kv_change WHERE rowid IN (SELECT rid FROM oc_kv_change_gone);
            """;
        await raise.ExecuteNonQueryAsync(cancellationToken);
        await using var count = connection.CreateCommand();
        count.Transaction = transaction;
        count.CommandText = "SELECT count(*) FROM oc_kv_change_gone";
        var removed = (int)(long)(await count.ExecuteScalarAsync(cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return removed;
    }

    public async Task<bool> SealShardAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken) =>
        await EpochStatementAsync(
            "UPDATE oc_kv_shard SET sealed = 1 WHERE table_id = @table AND shard = @shard AND epoch = @epoch",
            tableId, shard, epoch, cancellationToken) == 1;

    // Counted by a no-op update, so the check shares the one statement shape; it runs only after a silo lease lapsed.
    public async Task<bool> OwnsAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken) =>
        await EpochStatementAsync(
            "UPDATE oc_kv_shard SET epoch = epoch WHERE table_id = @table AND shard = @shard AND epoch = @epoch AND dropped = 0",
            tableId, shard, epoch, cancellationToken) == 1;

    public Task ReleaseShardAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken) =>
        EpochStatementAsync(
            "UPDATE oc_kv_shard SET holder = NULL, lease_until = 0 WHERE table_id = @table AND shard = @shard AND epoch = @epoch",
            tableId, shard, epoch, cancellationToken);

    // One statement on a shard's row at one epoch, in a transaction of its own; the rows it matched.
    private async Task<int> EpochStatementAsync(string sql, Guid tableId, int shard, long epoch, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var command = Command(connection, transaction, sql, tableId, shard);
        command.Parameters.AddWithValue("@epoch", epoch);
        var rows = await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return rows;
    }

    public async Task<bool> RenewSiloLeaseAsync(SiloLeaseHolder holder, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var renew = connection.CreateCommand();
        renew.CommandText = """
            INSERT INTO oc_kv_silo_lease (silo, lease_until) VALUES (@silo, @until)
            ON CONFLICT (silo) DO UPDATE SET lease_until = excluded.lease_until
            """;
        renew.Parameters.AddWithValue("@silo", holder.Id);
        renew.Parameters.AddWithValue("@until", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + (long)lease.TotalMilliseconds);
        return await renew.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task EndSiloLeaseAsync(SiloLeaseHolder holder, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var end = connection.CreateCommand();
        end.CommandText = "DELETE FROM oc_kv_silo_lease WHERE silo = @silo OR lease_until < @old";
        end.Parameters.AddWithValue("@silo", holder.Id);
        end.Parameters.AddWithValue("@old", DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds());
        await end.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<SiloLeaseState>> ReadSiloLeasesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT silo, lease_until <= @now FROM oc_kv_silo_lease";
        read.Parameters.AddWithValue("@now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        var leases = new List<SiloLeaseState>();
        while (await reader.ReadAsync(cancellationToken))
        {
            leases.Add(new SiloLeaseState(reader.GetString(0), reader.GetInt64(1) != 0));
        }

        return leases;
    }

    public async Task MarkDroppedAsync(Guid tableId, int shards, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var mark = Command(connection, transaction, """
            INSERT INTO oc_kv_shard (table_id, shard, dropped) VALUES (@table, @shard, 1)
            ON CONFLICT (table_id, shard) DO UPDATE SET dropped = 1
            """, tableId, 0);
        for (var shard = 0; shard < shards; shard++)
        {
            mark.Parameters["@shard"].Value = shard;
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var queue = Command(connection, transaction, "INSERT INTO oc_kv_dropped (table_id) VALUES (@table) ON CONFLICT DO NOTHING", tableId, 0);
        await queue.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<int> PurgeDroppedAsync(int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var tables = new List<string>();
        await using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT table_id FROM oc_kv_dropped ORDER BY dropped_at LIMIT 10";
            await using var reader = await list.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                tables.Add(reader.GetString(0));
            }
        }

        var purged = 0;
        foreach (var table in tables)
        {
            var limit = batchSize - purged;
            await using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM oc_kv WHERE rowid IN (SELECT rowid FROM oc_kv WHERE table_id = @table LIMIT @limit)";
            delete.Parameters.AddWithValue("@table", table);
            delete.Parameters.AddWithValue("@limit", limit);
            var deleted = await delete.ExecuteNonQueryAsync(cancellationToken);
            purged += deleted;
            if (deleted < limit)
            {
                await using var fences = connection.CreateCommand();
                fences.CommandText = "DELETE FROM oc_kv_fence WHERE table_id = @table";
                fences.Parameters.AddWithValue("@table", table);
                await fences.ExecuteNonQueryAsync(cancellationToken);

                await using var forget = connection.CreateCommand();
                forget.CommandText = "DELETE FROM oc_kv_dropped WHERE table_id = @table AND NOT EXISTS (SELECT 1 FROM oc_kv WHERE table_id = @table)";
                forget.Parameters.AddWithValue("@table", table);
                await forget.ExecuteNonQueryAsync(cancellationToken);
            }

            if (purged >= batchSize)
            {
                break;
            }
        }

        return purged;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql, Guid tableId, int shard)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("@table", tableId.ToString("N"));
        command.Parameters.AddWithValue("@shard", shard);
        return command;
    }
}
