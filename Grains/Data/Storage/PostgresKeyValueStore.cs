using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Grains.Data.Storage;

/// <summary>
/// Rows in PostgreSQL (deploy/sql/postgres/005_key_value.sql, 006_key_value_lease.sql, 011_key_fence.sql). A commit is
/// one batch in one round trip and one transaction: the epoch fence, then all upserts as one statement over arrays, then
/// all deletes as one statement, then the keys' fencing tokens as one statement, then the change log (013_watch_change_log.sql)
/// as one statement, whatever the number of rows. A commit with a deadline checks first that it arrived in time
/// (017_commit_not_after.sql), on the store's clock as this silo's lease renewals read it (<see cref="StoreClock"/>).
/// </summary>
public sealed class PostgresKeyValueStore(NpgsqlDataSource dataSource, StoreClock? clock = null) : IKeyValueStore
{
    private const string FencedState = "OCKV1";
    private const string DroppedState = "OCKV2";
    private const string SealedState = "OCKV3";
    private const string TooLateState = "OCKV4";

    // The silo's, shared with its deadline filter (its lease renewals are the readings).
    private readonly StoreClock _clock = clock ?? new();

    public async Task<ShardSnapshot> OpenShardAsync(Guid tableId, int shard, string holder, TimeSpan patience, CancellationToken cancellationToken)
    {
        // Patience is counted on the monotonic clock: a wall-clock step must not cut it short or stretch it.
        var waited = Stopwatch.StartNew();
        while (true)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            (long Epoch, bool Dropped, bool Sealed)? taken = null;
            // Free when released, held by this very silo (an earlier activation here that could not
            // release), or held by a silo whose lease ran out. A row of step 6 (no holder) still
            // honours its own lease, so a silo of the old version keeps what it holds.
            await using (var take = new NpgsqlCommand("""
                INSERT INTO oc_kv_shard (table_id, shard, epoch, holder) VALUES (@table, @shard, 1, @holder)
                ON CONFLICT (table_id, shard) DO UPDATE SET epoch = oc_kv_shard.epoch + 1, holder = EXCLUDED.holder
                WHERE oc_kv_shard.dropped
                   OR (oc_kv_shard.holder IS NULL AND oc_kv_shard.lease_until <= now())
                   OR oc_kv_shard.holder = EXCLUDED.holder
                   OR NOT EXISTS (SELECT 1 FROM oc_kv_silo_lease l WHERE l.silo = oc_kv_shard.holder AND l.lease_until > now())
                RETURNING epoch, dropped, sealed
                """, connection, transaction))
            {
                take.Parameters.AddWithValue("table", tableId);
                take.Parameters.AddWithValue("shard", shard);
                take.Parameters.AddWithValue("holder", holder);
                await using var reader = await take.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    taken = (reader.GetInt64(0), reader.GetBoolean(1), reader.GetBoolean(2));
                }
            }

            if (taken is not { } owned)
            {
                // A live holder: wait for its lease to run out (it may be dying), then try again.
                await using var remaining = new NpgsqlCommand("""
                    SELECT GREATEST(COALESCE((SELECT l.lease_until FROM oc_kv_silo_lease l WHERE l.silo = s.holder), s.lease_until) - now(), interval '0')
                    FROM oc_kv_shard s WHERE s.table_id = @table AND s.shard = @shard
                    """, connection, transaction);
                remaining.Parameters.AddWithValue("table", tableId);
                remaining.Parameters.AddWithValue("shard", shard);
                var wait = (TimeSpan)(await remaining.ExecuteScalarAsync(cancellationToken))!;
                await transaction.RollbackAsync(cancellationToken);
                if (waited.Elapsed + wait > patience)
                {
                    throw new ShardFencedException($"shard {tableId}/{shard} is held by another live activation", tableDropped: false);
                }

                await Task.Delay(wait + TimeSpan.FromMilliseconds(20), cancellationToken);
                continue;
            }

            var rows = owned.Dropped ? [] : await ReadShardAsync(connection, transaction,
                "SELECT key, value, version, expires_at, revision FROM oc_kv WHERE table_id = @table AND shard = @shard", tableId, shard,
                reader => new StoredRow(
                    reader.GetString(0),
                    reader.GetFieldValue<byte[]>(1),
                    reader.GetInt64(2),
                    reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
                    reader.GetInt64(4)),
                cancellationToken);
            var fences = owned.Dropped ? [] : await ReadShardAsync(connection, transaction,
                "SELECT key, lock_name, token FROM oc_kv_fence WHERE table_id = @table AND shard = @shard", tableId, shard,
                reader => new StoredFence(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)),
                cancellationToken);

            // Revisions continue above everything durable: the rows, the log (deleted keys live only
            // there) and the floor (what the sweep removed).
            var (logged, floor) = (await ReadShardAsync(connection, transaction, """
                SELECT COALESCE((SELECT max(revision) FROM oc_kv_change WHERE table_id = @table AND shard = @shard), 0),
                       COALESCE((SELECT log_floor FROM oc_kv_shard WHERE table_id = @table AND shard = @shard), 0)
                """, tableId, shard, reader => (reader.GetInt64(0), reader.GetInt64(1)), cancellationToken))[0];
            var revision = Math.Max(Math.Max(logged, floor), rows.Count == 0 ? 0 : rows.Max(r => r.Revision));

            await transaction.CommitAsync(cancellationToken);
            return new ShardSnapshot(owned.Epoch, owned.Dropped, rows, owned.Sealed, fences) { Revision = revision, LogFloor = floor };
        }
    }

    public async Task CommitAsync(Guid tableId, int shard, long epoch, IReadOnlyList<RowWrite> writes, IReadOnlyList<LoggedChange> changes, long deadline, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // No explicit transaction: a batch runs in one implicit transaction and one round trip.
        await using var batch = new NpgsqlBatch(connection);

        // First, so a commit that arrives late (its bytes held in a cut, retransmitted after the
        // silo gave up on them) takes no lock and applies nothing. Unchecked until this silo's
        // first lease renewal has read the store's clock.
        if (deadline != 0 && _clock.StoreTimeAt(deadline) is { } notAfter)
        {
            var inTime = new NpgsqlBatchCommand("SELECT oc_kv_commit_not_after(@not_after)");
            inTime.Parameters.AddWithValue("not_after", NpgsqlDbType.TimestampTz, notAfter);
            batch.BatchCommands.Add(inTime);
        }

        var fence = new NpgsqlBatchCommand("SELECT oc_kv_commit_fence(@table, @shard, @epoch)");
        fence.Parameters.AddWithValue("table", tableId);
        fence.Parameters.AddWithValue("shard", shard);
        fence.Parameters.AddWithValue("epoch", epoch);
        batch.BatchCommands.Add(fence);

        var puts = writes.Where(w => w.Value is not null).ToList();
        if (puts.Count > 0)
        {
            var upsert = new NpgsqlBatchCommand("""
                INSERT INTO oc_kv (table_id, shard, key, value, version, expires_at, revision)
                SELECT @table, @shard, w.key, w.value, w.version, w.expires_at, w.revision
                FROM unnest(@keys, @values, @versions, @expiries, @revisions) AS w(key, value, version, expires_at, revision)
                ON CONFLICT (table_id, shard, key) DO UPDATE
                SET value = EXCLUDED.value, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at, revision = EXCLUDED.revision
                """);
            upsert.Parameters.AddWithValue("table", tableId);
            upsert.Parameters.AddWithValue("shard", shard);
            upsert.Parameters.AddWithValue("keys", NpgsqlDbType.Array | NpgsqlDbType.Text, puts.Select(w => w.Key).ToArray());
            upsert.Parameters.AddWithValue("values", NpgsqlDbType.Array | NpgsqlDbType.Bytea, puts.Select(w => w.Value!).ToArray());
            upsert.Parameters.AddWithValue("versions", NpgsqlDbType.Array | NpgsqlDbType.Bigint, puts.Select(w => w.Version).ToArray());
            upsert.Parameters.AddWithValue("expiries", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
                puts.Select(w => w.ExpiresAt?.UtcDateTime).ToArray());
            upsert.Parameters.AddWithValue("revisions", NpgsqlDbType.Array | NpgsqlDbType.Bigint, puts.Select(w => w.Revision).ToArray());
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

        var fenced = writes.Where(w => w.Fences is not null).SelectMany(w => w.Fences!.Select(f => (w.Key, Lock: f.Key, Token: f.Value))).ToList();
        if (fenced.Count > 0)
        {
            var raise = new NpgsqlBatchCommand("""
                INSERT INTO oc_kv_fence (table_id, shard, key, lock_name, token)
                SELECT @table, @shard, f.key, f.lock_name, f.token
                FROM unnest(@keys, @locks, @tokens) AS f(key, lock_name, token)
                ON CONFLICT (table_id, shard, key, lock_name) DO UPDATE
                SET token = GREATEST(oc_kv_fence.token, EXCLUDED.token)
                """);
            raise.Parameters.AddWithValue("table", tableId);
            raise.Parameters.AddWithValue("shard", shard);
            raise.Parameters.AddWithValue("keys", NpgsqlDbType.Array | NpgsqlDbType.Text, fenced.Select(f => f.Key).ToArray());
            raise.Parameters.AddWithValue("locks", NpgsqlDbType.Array | NpgsqlDbType.Text, fenced.Select(f => f.Lock).ToArray());
            raise.Parameters.AddWithValue("tokens", NpgsqlDbType.Array | NpgsqlDbType.Bigint, fenced.Select(f => f.Token).ToArray());
            batch.BatchCommands.Add(raise);
        }

        if (changes.Count > 0)
        {
            var log = new NpgsqlBatchCommand("""
                INSERT INTO oc_kv_change (table_id, shard, revision, key, value, version)
                SELECT @table, @shard, c.revision, c.key, c.value, c.version
                FROM unnest(@revisions, @keys, @values, @versions) AS c(revision, key, value, version)
                """);
            log.Parameters.AddWithValue("table", tableId);
            log.Parameters.AddWithValue("shard", shard);
            log.Parameters.AddWithValue("revisions", NpgsqlDbType.Array | NpgsqlDbType.Bigint, changes.Select(c => c.Revision).ToArray());
            log.Parameters.AddWithValue("keys", NpgsqlDbType.Array | NpgsqlDbType.Text, changes.Select(c => c.Key).ToArray());
            log.Parameters.AddWithValue("values", NpgsqlDbType.Array | NpgsqlDbType.Bytea, changes.Select(c => c.Value).ToArray());
            log.Parameters.AddWithValue("versions", NpgsqlDbType.Array | NpgsqlDbType.Bigint, changes.Select(c => c.Version).ToArray());
            batch.BatchCommands.Add(log);
        }

        try
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState is FencedState or DroppedState or SealedState)
        {
            throw new ShardFencedException(ex.MessageText, tableDropped: ex.SqlState == DroppedState, moved: ex.SqlState == SealedState);
        }
        catch (PostgresException ex) when (ex.SqlState == TooLateState)
        {
            throw new DeadlineExceededException($"The commit reached the store after its deadline and was not applied: {ex.MessageText}.");
        }
    }

    public async Task<ChangeLogPage> ReadChangesAsync(Guid tableId, int shard, long after, long through, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for both, so a sweep cannot fall between the floor and the rows.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var floor = (await ReadShardAsync(connection, transaction,
            "SELECT COALESCE((SELECT log_floor FROM oc_kv_shard WHERE table_id = @table AND shard = @shard), 0)", tableId, shard,
            reader => reader.GetInt64(0), cancellationToken))[0];
        await using var read = new NpgsqlCommand("""
            SELECT revision, key, value, version FROM oc_kv_change
            WHERE table_id = @table AND shard = @shard AND revision > @after AND revision <= @through
            ORDER BY revision LIMIT @limit
            """, connection, transaction);
        read.Parameters.AddWithValue("table", tableId);
        read.Parameters.AddWithValue("shard", shard);
        read.Parameters.AddWithValue("after", after);
        read.Parameters.AddWithValue("through", through);
        read.Parameters.AddWithValue("limit", limit);
        var changes = new List<LoggedChange>();
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                changes.Add(new LoggedChange(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2), reader.GetInt64(3)));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return new ChangeLogPage(changes, floor);
    }

    public async Task<int> SweepChangesAsync(DateTimeOffset olderThan, int batchSize, CancellationToken cancellationToken)
    {
        // One transaction: the floors rise with the delete, so no reader ever sees rows gone without
        // the floor saying so.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // The oldest rows first, skipping rows another silo's sweep holds. Commits never lock old
        // change rows, so holding these while waiting for a shard or feed row below closes no cycle.
        var (tables, shards, floors, swept) = (new List<Guid>(), new List<int>(), new List<long>(), 0);
        await using (var delete = new NpgsqlCommand("""
            WITH gone AS (
                DELETE FROM oc_kv_change WHERE ctid IN (
                    SELECT ctid FROM oc_kv_change WHERE changed_at < @before ORDER BY changed_at LIMIT @limit FOR UPDATE SKIP LOCKED)
                RETURNING table_id, shard, revision)
            SELECT table_id, shard, max(revision), count(*)::int FROM gone GROUP BY table_id, shard
            """, connection, transaction))
        {
            delete.Parameters.AddWithValue("before", olderThan);
            delete.Parameters.AddWithValue("limit", batchSize);
            await using var reader = await delete.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                tables.Add(reader.GetGuid(0));
                shards.Add(reader.GetInt32(1));
                floors.Add(reader.GetInt64(2));
                swept += reader.GetInt32(3);
            }
        }

        if (swept > 0)
        {
            // Each floor row is locked before it is raised, in (table_id, shard) order: first every
            // oc_kv_shard row, then every oc_txn_feed row (transactional tables keep their floor in
            // their feed row, 014_txn_watch.sql). A transactional commit locks its feed rows in that
            // same key order (TransactionalStateWriter), a drop marks one table's shard rows in shard
            // order, and another silo's sweep goes the same way, so no two of them can each hold a
            // row the other waits for. An UPDATE ... FROM alone takes its rows in whatever order its
            // join yields them, which is how a sweep and a commit sharing two feeds could deadlock.
            // The statements of a batch run one after another, in this transaction.
            await using var raise = new NpgsqlBatch(connection, transaction);
            foreach (var table in new[] { "oc_kv_shard", "oc_txn_feed" })
            {
                raise.BatchCommands.Add(FloorCommand($"""
                    SELECT 1 FROM {table} r JOIN unnest(@tables, @shards) AS f(table_id, shard) ON r.table_id = f.table_id AND r.shard = f.shard
                    ORDER BY r.table_id, r.shard FOR UPDATE OF r
                    """, tables, shards));
                raise.BatchCommands.Add(FloorCommand($"""
                    UPDATE {table} r SET log_floor = GREATEST(r.log_floor, f.floor)
                    FROM unnest(@tables, @shards, @floors) AS f(table_id, shard, floor) WHERE r.table_id = f.table_id AND r.shard = f.shard
                    """, tables, shards, floors));
            }

            await raise.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return swept;
    }

    // A statement over the swept shards, given as parallel arrays (and their new floors, for the raise).
    private static NpgsqlBatchCommand FloorCommand(string sql, List<Guid> tables, List<int> shards, List<long>? floors = null)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<Guid[]>("tables", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { TypedValue = [.. tables] });
        command.Parameters.Add(new NpgsqlParameter<int[]>("shards", NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = [.. shards] });
        if (floors is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<long[]>("floors", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = [.. floors] });
        }

        return command;
    }

    public async Task<bool> SealShardAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken)
    {
        await using var seal = EpochCommand("UPDATE oc_kv_shard SET sealed = true WHERE table_id = @table AND shard = @shard AND epoch = @epoch", tableId, shard, epoch);
        return await seal.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> OwnsAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken)
    {
        await using var owns = EpochCommand(
            "SELECT EXISTS (SELECT 1 FROM oc_kv_shard WHERE table_id = @table AND shard = @shard AND epoch = @epoch AND NOT dropped)", tableId, shard, epoch);
        return (bool)(await owns.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task ReleaseShardAsync(Guid tableId, int shard, long epoch, CancellationToken cancellationToken)
    {
        await using var release = EpochCommand(
            "UPDATE oc_kv_shard SET holder = NULL, lease_until = '-infinity' WHERE table_id = @table AND shard = @shard AND epoch = @epoch", tableId, shard, epoch);
        await release.ExecuteNonQueryAsync(cancellationToken);
    }

    // One statement on a shard's row as one epoch sees it; the data source lends the connection for it.
    private NpgsqlCommand EpochCommand(string sql, Guid tableId, int shard, long epoch)
    {
        var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("table", tableId);
        command.Parameters.AddWithValue("shard", shard);
        command.Parameters.AddWithValue("epoch", epoch);
        return command;
    }

    public async Task<bool> RenewSiloLeaseAsync(SiloLeaseHolder holder, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // In the statement itself, so no renewal can land after the vote that declared the silo dead.
        // It answers the store's clock, read inside the statement: the reading commits take their deadlines by.
        await using var renew = new NpgsqlCommand("""
            INSERT INTO oc_kv_silo_lease (silo, lease_until)
            SELECT @silo, now() + @lease
            WHERE NOT EXISTS (SELECT 1 FROM oc_membership m
                              WHERE m.deployment_id = @cluster AND m.address = @address AND m.port = @port
                                AND m.generation = @generation AND m.status = 6)
            ON CONFLICT (silo) DO UPDATE SET lease_until = EXCLUDED.lease_until
            RETURNING clock_timestamp()
            """, connection);
        renew.Parameters.AddWithValue("silo", holder.Id);
        renew.Parameters.AddWithValue("lease", lease);
        renew.Parameters.AddWithValue("cluster", holder.ClusterId);
        renew.Parameters.AddWithValue("address", holder.Address);
        renew.Parameters.AddWithValue("port", holder.Port);
        renew.Parameters.AddWithValue("generation", holder.Generation);
        var sent = Stopwatch.GetTimestamp();
        if (await renew.ExecuteScalarAsync(cancellationToken) is not DateTime storeNow)
        {
            return false;
        }

        _clock.Observe(sent, Stopwatch.GetTimestamp(), storeNow);
        return true;
    }

    public async Task EndSiloLeaseAsync(SiloLeaseHolder holder, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var end = new NpgsqlCommand(
            "DELETE FROM oc_kv_silo_lease WHERE silo = @silo OR lease_until < now() - interval '1 day'", connection);
        end.Parameters.AddWithValue("silo", holder.Id);
        await end.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<SiloLeaseState>> ReadSiloLeasesAsync(CancellationToken cancellationToken)
    {
        await using var read = dataSource.CreateCommand("SELECT silo, lease_until <= now() FROM oc_kv_silo_lease");
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        var leases = new List<SiloLeaseState>();
        while (await reader.ReadAsync(cancellationToken))
        {
            leases.Add(new SiloLeaseState(reader.GetString(0), reader.GetBoolean(1)));
        }

        return leases;
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
            var limit = batchSize - purged;
            var deleted = await DeleteSomeAsync("""
                DELETE FROM oc_kv WHERE ctid IN (SELECT ctid FROM oc_kv WHERE table_id = @table LIMIT @limit)
                """, table, limit);
            if (deleted < limit)
            {
                // A transactional table's rows are its participants' states (by the table id in
                // their grain ids, 016_txn_state_by_table.sql); a plain table has none.
                deleted += await DeleteSomeAsync("""
                    DELETE FROM oc_txn_state WHERE ctid IN
                        (SELECT ctid FROM oc_txn_state WHERE split_part(grain_id, '/', 3) = @hex LIMIT @limit - @deleted)
                    """, table, limit, deleted);
            }

            purged += deleted;
            if (deleted < limit)
            {
                // The fences and feeds go with the last rows: they are smaller and fewer than the rows.
                await DeleteSomeAsync("DELETE FROM oc_kv_fence WHERE table_id = @table", table);
                await DeleteSomeAsync("DELETE FROM oc_txn_feed WHERE table_id = @table", table);

                // Done with this table: its shard rows stay (dropped = true) so a late shard
                // activation still refuses it. A transactional key has no such check, and a late
                // one (a request or a transaction in flight at the drop) loads, which writes its
                // row (a load fences): the table stays queued for a while so that row goes too.
                await DeleteSomeAsync("""
                    DELETE FROM oc_kv_dropped WHERE table_id = @table AND dropped_at < now() - @grace
                      AND NOT EXISTS (SELECT 1 FROM oc_kv WHERE table_id = @table)
                      AND NOT EXISTS (SELECT 1 FROM oc_txn_state WHERE split_part(grain_id, '/', 3) = @hex)
                    """, table);
            }

            if (purged >= batchSize)
            {
                break;
            }
        }

        return purged;

        async Task<int> DeleteSomeAsync(string sql, Guid table, int limit = 0, int deleted = 0)
        {
            await using var delete = new NpgsqlCommand(sql, connection);
            delete.Parameters.AddWithValue("table", table);
            delete.Parameters.AddWithValue("hex", table.ToString("N"));
            delete.Parameters.AddWithValue("limit", limit);
            delete.Parameters.AddWithValue("deleted", deleted);
            delete.Parameters.AddWithValue("grace", DroppedTxnGrace);
            return await delete.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    // Far beyond the answer bound (5 s) of any request or transaction in flight at a drop.
    private static readonly TimeSpan DroppedTxnGrace = TimeSpan.FromMinutes(1);

    // Every row of one shard in one of the shard tables, read in the transaction that opens the shard.
    private static async Task<List<T>> ReadShardAsync<T>(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, Guid tableId, int shard,
        Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var load = new NpgsqlCommand(sql, connection, transaction);
        load.Parameters.AddWithValue("table", tableId);
        load.Parameters.AddWithValue("shard", shard);
        await using var reader = await load.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
