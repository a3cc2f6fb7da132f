using Microsoft.Data.Sqlite;

namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// Rows in the embedded SQLite file (deploy/sql/sqlite/004_key_value.sql). SQLite has one writer
/// at a time: a commit takes the write lock (BEGIN IMMEDIATE), checks the epoch and writes.
/// </summary>
public sealed class SqliteKeyValueStore(string connectionString) : IKeyValueStore
{
    public async Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        long epoch;
        bool dropped;
        await using (var take = Command(connection, transaction, """
            INSERT INTO oc_kv_shard (table_id, shard, epoch) VALUES (@table, @shard, 1)
            ON CONFLICT (table_id, shard) DO UPDATE SET epoch = epoch + 1
            RETURNING epoch, dropped
            """, tableId, shard))
        await using (var reader = await take.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (epoch, dropped) = (reader.GetInt64(0), reader.GetInt64(1) != 0);
        }

        var rows = new List<StoredRow>();
        if (!dropped)
        {
            await using var load = Command(connection, transaction,
                "SELECT key, value, version, expires_at FROM oc_kv WHERE table_id = @table AND shard = @shard", tableId, shard);
            await using var reader = await load.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new StoredRow(
                    reader.GetString(0),
                    (byte[])reader.GetValue(1),
                    reader.GetInt64(2),
                    reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return new ShardSnapshot(epoch, dropped, rows);
    }

    public async Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var fence = Command(connection, transaction,
            "SELECT epoch, dropped FROM oc_kv_shard WHERE table_id = @table AND shard = @shard", tableId, shard))
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
        }

        await using var upsert = Command(connection, transaction, """
            INSERT INTO oc_kv (table_id, shard, key, value, version, expires_at)
            VALUES (@table, @shard, @key, @value, @version, @expires)
            ON CONFLICT (table_id, shard, key) DO UPDATE
            SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
            """, tableId, shard);
        var key = upsert.Parameters.Add("@key", SqliteType.Text);
        var value = upsert.Parameters.Add("@value", SqliteType.Blob);
        var version = upsert.Parameters.Add("@version", SqliteType.Integer);
        var expires = upsert.Parameters.Add("@expires", SqliteType.Integer);
        await using var delete = Command(connection, transaction,
            "DELETE FROM oc_kv WHERE table_id = @table AND shard = @shard AND key = @key", tableId, shard);
        var deleteKey = delete.Parameters.Add("@key", SqliteType.Text);

        foreach (var write in writes)
        {
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
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
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
