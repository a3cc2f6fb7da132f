using Npgsql;
using NpgsqlTypes;

namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// Rows in PostgreSQL (deploy/sql/postgres/005_key_value.sql). A commit is one batch in one
/// round trip and one transaction: the fence, then all upserts as one statement over arrays, then
/// all deletes as one statement, whatever the number of rows.
/// </summary>
public sealed class PostgresKeyValueStore(NpgsqlDataSource dataSource) : IKeyValueStore
{
    private const string FencedState = "OCKV1";
    private const string DroppedState = "OCKV2";

    public async Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        long epoch;
        bool dropped;
        await using (var take = new NpgsqlCommand("""
            INSERT INTO oc_kv_shard (table_id, shard, epoch) VALUES (@table, @shard, 1)
            ON CONFLICT (table_id, shard) DO UPDATE SET epoch = oc_kv_shard.epoch + 1
            RETURNING epoch, dropped
            """, connection, transaction))
        {
            take.Parameters.AddWithValue("table", tableId);
            take.Parameters.AddWithValue("shard", shard);
            await using var reader = await take.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            (epoch, dropped) = (reader.GetInt64(0), reader.GetBoolean(1));
        }

        var rows = new List<StoredRow>();
        if (!dropped)
        {
            await using var load = new NpgsqlCommand(
                "SELECT key, value, version, expires_at FROM oc_kv WHERE table_id = @table AND shard = @shard",
                connection, transaction);
            load.Parameters.AddWithValue("table", tableId);
            load.Parameters.AddWithValue("shard", shard);
            await using var reader = await load.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new StoredRow(
                    reader.GetString(0),
                    reader.GetFieldValue<byte[]>(1),
                    reader.GetInt64(2),
                    reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3)));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return new ShardSnapshot(epoch, dropped, rows);
    }

    public async Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // No explicit transaction: a batch runs in one implicit transaction and one round trip.
        await using var batch = new NpgsqlBatch(connection);

        var fence = new NpgsqlBatchCommand("SELECT oc_kv_fence(@table, @shard, @epoch)");
        fence.Parameters.AddWithValue("table", tableId);
        fence.Parameters.AddWithValue("shard", shard);
        fence.Parameters.AddWithValue("epoch", epoch);
        batch.BatchCommands.Add(fence);

        var puts = writes.Where(w => w.Value is not null).ToList();
        if (puts.Count > 0)
        {
            var upsert = new NpgsqlBatchCommand("""
                INSERT INTO oc_kv (table_id, shard, key, value, version, expires_at)
                SELECT @table, @shard, w.key, w.value, w.version, w.expires_at
                FROM unnest(@keys, @values, @versions, @expiries) AS w(key, value, version, expires_at)
                ON CONFLICT (table_id, shard, key) DO UPDATE
                SET value = EXCLUDED.value, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at
                """);
            upsert.Parameters.AddWithValue("table", tableId);
            upsert.Parameters.AddWithValue("shard", shard);
            upsert.Parameters.AddWithValue("keys", NpgsqlDbType.Array | NpgsqlDbType.Text, puts.Select(w => w.Key).ToArray());
            upsert.Parameters.AddWithValue("values", NpgsqlDbType.Array | NpgsqlDbType.Bytea, puts.Select(w => w.Value!).ToArray());
            upsert.Parameters.AddWithValue("versions", NpgsqlDbType.Array | NpgsqlDbType.Bigint, puts.Select(w => w.Version).ToArray());
            upsert.Parameters.AddWithValue("expiries", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
                puts.Select(w => w.ExpiresAt?.UtcDateTime).ToArray());
            batch.BatchCommands.Add(upsert);
        }

        var deletes = writes.Where(w => w.Value is null).Select(w => w.Key).ToArray();
        if (deletes.Length > 0)
        {
            var delete = new NpgsqlBatchCommand("DELETE FROM oc_kv WHERE table_id = @table AND shard = @shard AND key = ANY(@keys)");
            delete.Parameters.AddWithValue("table", tableId);
            delete.Parameters.AddWithValue("shard", shard);
            delete.Parameters.AddWithValue("keys", NpgsqlDbType.Array | NpgsqlDbType.Text, deletes);
            batch.BatchCommands.Add(delete);
        }

        try
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState is FencedState or DroppedState)
        {
            throw new ShardFencedException(ex.MessageText, tableDropped: ex.SqlState == DroppedState);
        }
    }

    public async Task MarkDroppedAsync(Guid tableId, int shards, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        var mark = new NpgsqlBatchCommand("""
            INSERT INTO oc_kv_shard (table_id, shard, dropped)
            SELECT @table, s, true FROM generate_series(0, @shards - 1) AS s
            ON CONFLICT (table_id, shard) DO UPDATE SET dropped = true
            """);
        mark.Parameters.AddWithValue("table", tableId);
        mark.Parameters.AddWithValue("shards", shards);
        var queue = new NpgsqlBatchCommand("INSERT INTO oc_kv_dropped (table_id) VALUES (@table) ON CONFLICT DO NOTHING");
        queue.Parameters.AddWithValue("table", tableId);
        batch.BatchCommands.Add(mark);
        batch.BatchCommands.Add(queue);
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<int> PurgeDroppedAsync(int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var tables = new List<Guid>();
        await using (var list = new NpgsqlCommand("SELECT table_id FROM oc_kv_dropped ORDER BY dropped_at LIMIT 10", connection))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                tables.Add(reader.GetGuid(0));
            }
        }

        var purged = 0;
        foreach (var table in tables)
        {
            await using var delete = new NpgsqlCommand("""
                DELETE FROM oc_kv WHERE ctid IN (SELECT ctid FROM oc_kv WHERE table_id = @table LIMIT @limit)
                """, connection);
            var limit = batchSize - purged;
            delete.Parameters.AddWithValue("table", table);
            delete.Parameters.AddWithValue("limit", limit);
            var deleted = await delete.ExecuteNonQueryAsync(cancellationToken);
            purged += deleted;
            if (deleted < limit)
            {
                // Done with this table: its shard rows stay (dropped = true) so a late activation still refuses it.
                await using var forget = new NpgsqlCommand("""
                    DELETE FROM oc_kv_dropped WHERE table_id = @table
                      AND NOT EXISTS (SELECT 1 FROM oc_kv WHERE table_id = @table)
                    """, connection);
                forget.Parameters.AddWithValue("table", table);
                await forget.ExecuteNonQueryAsync(cancellationToken);
            }

            if (purged >= batchSize)
            {
                break;
            }
        }

        return purged;
    }
}
