using System.Data.Common;
using static OrleansCompute.Grains.DbCommands;
using Npgsql;
using OrleansCompute.Coordination;
using OrleansCompute.Grains.Storage;

namespace OrleansCompute.Grains.Coordination.Storage;

/// <summary>A lease as an activation takes it over: its epoch, TTL, how long ago (by the store's clock) it was last marked, and what is attached.</summary>
public sealed record LeaseRow(long Epoch, int TtlMs, long MarkedAgoMs, bool Ended, IReadOnlyList<LeaseItem> Items);

/// <summary>A lock as an activation takes it over.</summary>
public sealed record LockRow(long Epoch, long LastToken, LockHolder? Holder);

/// <summary>Another activation took the lease or lock over since this one did: it must step down. Nothing was written.</summary>
public sealed class CoordinationFencedException(string message) : Exception(message);

/// <summary>
/// Where leases and locks are durable (deploy/sql/*/..._coordination.sql). The seam lets tests put
/// a store that fails on demand under the grains.
/// </summary>
public interface ICoordinationStore
{
    /// <summary>Creates the lease marked now, if the tenant has fewer than <paramref name="tenantLimit"/> leases and the id is free.</summary>
    Task<LeaseGrantStatus> InsertLeaseAsync(string tenant, string id, int ttlMs, int tenantLimit, CancellationToken cancellationToken);

    /// <summary>Takes the lease over for a new activation (the next epoch); null when there is no such lease.</summary>
    Task<LeaseRow?> TakeLeaseAsync(string tenant, string id, CancellationToken cancellationToken);

    /// <summary>Records that a keepalive was answered about now, by the store's clock. Fenced by the epoch.</summary>
    Task MarkLeaseAsync(string tenant, string id, long epoch, CancellationToken cancellationToken);

    /// <summary>Records that the lease ended, before anything attached is released. Fenced by the epoch.</summary>
    Task EndLeaseAsync(string tenant, string id, long epoch, CancellationToken cancellationToken);

    /// <summary>Forgets an ended lease whose attachments were all released.</summary>
    Task DeleteLeaseAsync(string tenant, string id, CancellationToken cancellationToken);

    /// <summary>Attaches an item to a lease that has not ended. False when it has (or another epoch holds it).</summary>
    Task<bool> AttachAsync(string tenant, string lease, long epoch, LeaseItem item, CancellationToken cancellationToken);

    Task DetachAsync(string tenant, string lease, LeaseItem item, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> ids of leases that have not ended, after <paramref name="after"/>, in ordinal order.</summary>
    Task<List<string>> ListLeasesAsync(string tenant, string? after, int limit, CancellationToken cancellationToken);

    /// <summary>Takes a lock or election (<paramref name="kind"/>, a <see cref="LeaseItem"/> kind) over for a new activation (the next epoch), creating its row.</summary>
    Task<LockRow> TakeLockAsync(string tenant, string kind, string name, CancellationToken cancellationToken);

    /// <summary>Writes the last token and holder. Fenced by the epoch; the last token never goes back.</summary>
    Task SaveLockAsync(string tenant, string kind, string name, long epoch, long lastToken, LockHolder? holder, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a grant to <paramref name="holder"/> whose lease already holds the item of this lock
    /// (attached by an earlier grant to the same lease and never detached), in one statement that
    /// writes only while that lease has not ended, is within its bound (marked less than 1.5 TTL
    /// ago) and still holds the item. False when it does not: nothing was written, and the caller
    /// must attach through the lease. Fenced by the epoch, as <see cref="SaveLockAsync"/>.
    /// </summary>
    Task<bool> SaveGrantToAttachedAsync(string tenant, string kind, string name, long epoch, long lastToken, LockHolder holder, CancellationToken cancellationToken);
}

/// <summary>
/// Leases and locks in PostgreSQL or, in embedded mode, SQLite. The SQL is the common subset of
/// both but for the clock: PostgreSQL's <c>clock_timestamp()</c>, or the one machine's clock.
/// <para>
/// The writes of a lock's life (holder saved, item attached to and detached from its lease, lease
/// marked) go through one group commit for the whole silo: while one transaction commits, the
/// statements that arrive from every lock and lease grain gather, and the next transaction runs
/// them all, each still fenced on its own epoch (its row count is its answer). Many acquires and
/// releases thus share one commit. A transaction that fails fails its statements only
/// (<see cref="FlushFailure.FailGroup"/>); each caller then sees the store as unavailable, as it would alone.
/// </para>
/// </summary>
public sealed class CoordinationStore : ICoordinationStore
{
    /// <summary>Most statements per transaction, so one commit never grows without bound.</summary>
    public const int MaxGroup = 256;

    private readonly DbDataSource _dataSource;
    private readonly bool _postgres;
    private readonly WriteCoalescer<Statement> _writes;

    public CoordinationStore(DbDataSource dataSource)
    {
        _dataSource = dataSource;
        _postgres = dataSource is NpgsqlDataSource;
        _writes = new WriteCoalescer<Statement>(RunGroupAsync, FlushFailure.FailGroup, MaxGroup, TaskScheduler.Default);
    }

    // The store's clock in Unix milliseconds. Leases compare two readings of it, never one reading with a silo's clock.
    private string Now => _postgres
        ? "CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS bigint)"
        : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

    private string True => _postgres ? "true" : "1";

    private string False => _postgres ? "false" : "0";

    public async Task<LeaseGrantStatus> InsertLeaseAsync(string tenant, string id, int ttlMs, int tenantLimit, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (_postgres)
        {
            // Grants of one tenant take turns, so two at once cannot both pass the count below.
            await using var serialize = Command(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext('oc_coord_lease'), hashtext(@tenant))");
            Add(serialize, "tenant", tenant);
            await serialize.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var count = Command(connection, transaction, "SELECT count(*) FROM oc_coord_lease WHERE tenant = @tenant");
        Add(count, "tenant", tenant);
        if (Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken)) >= tenantLimit)
        {
            return LeaseGrantStatus.LimitReached;
        }

        await using var insert = Command(connection, transaction, $"""
            INSERT INTO oc_coord_lease (tenant, id, ttl_ms, epoch, marked_at, ended) VALUES (@tenant, @id, @ttl, 1, {Now}, {False})
            ON CONFLICT DO NOTHING
            """);
        Add(insert, "tenant", tenant);
        Add(insert, "id", id);
        Add(insert, "ttl", (long)ttlMs);
        var inserted = await insert.ExecuteNonQueryAsync(cancellationToken) == 1;
        await transaction.CommitAsync(cancellationToken);
        return inserted ? LeaseGrantStatus.Granted : LeaseGrantStatus.Exists;
    }

    public async Task<LeaseRow?> TakeLeaseAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        LeaseRow? row = null;
        await using (var take = Command(connection, transaction, $"""
            UPDATE oc_coord_lease SET epoch = epoch + 1 WHERE tenant = @tenant AND id = @id
            RETURNING epoch, ttl_ms, {Now} - marked_at, ended
            """))
        {
            Add(take, "tenant", tenant);
            Add(take, "id", id);
            await using var reader = await take.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                row = new LeaseRow(reader.GetInt64(0), (int)reader.GetInt64(1), reader.GetInt64(2), reader.GetBoolean(3), []);
            }
        }

        if (row is null)
        {
            return null;
        }

        var items = new List<LeaseItem>();
        await using (var select = Command(connection, transaction, "SELECT kind, name FROM oc_coord_lease_item WHERE tenant = @tenant AND lease = @id"))
        {
            Add(select, "tenant", tenant);
            Add(select, "id", id);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                items.Add(new LeaseItem(reader.GetString(0), reader.GetString(1)));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return row with { Items = items };
    }

    public Task MarkLeaseAsync(string tenant, string id, long epoch, CancellationToken cancellationToken) =>
        FencedLeaseUpdateAsync($"marked_at = {Now}", tenant, id, epoch, cancellationToken);

    public Task EndLeaseAsync(string tenant, string id, long epoch, CancellationToken cancellationToken) =>
        FencedLeaseUpdateAsync($"ended = {True}", tenant, id, epoch, cancellationToken);

    public async Task DeleteLeaseAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var sql in new[]
                 {
                     "DELETE FROM oc_coord_lease_item WHERE tenant = @tenant AND lease = @id",
                     $"DELETE FROM oc_coord_lease WHERE tenant = @tenant AND id = @id AND ended = {True}",
                 })
        {
            await using var delete = Command(connection, transaction, sql);
            Add(delete, "tenant", tenant);
            Add(delete, "id", id);
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<bool> AttachAsync(string tenant, string lease, long epoch, LeaseItem item, CancellationToken cancellationToken)
    {
        // One statement: the item lands only while the lease row says it has not ended.
        var inserted = await RunGroupedAsync($"""
            INSERT INTO oc_coord_lease_item (tenant, lease, kind, name)
            SELECT @tenant, @lease, @kind, @name FROM oc_coord_lease
            WHERE tenant = @tenant AND id = @lease AND epoch = @epoch AND ended = {False}
            ON CONFLICT DO NOTHING
            """,
            ("tenant", tenant), ("lease", lease), ("epoch", epoch), ("kind", item.Kind), ("name", item.Name));
        if (inserted == 1)
        {
            return true;
        }

        // Nothing inserted: attached already (a retry), or the lease ended or moved.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var check = Command(connection, null, $"""
            SELECT count(*) FROM oc_coord_lease l JOIN oc_coord_lease_item i ON i.tenant = l.tenant AND i.lease = l.id
            WHERE l.tenant = @tenant AND l.id = @lease AND l.epoch = @epoch AND l.ended = {False} AND i.kind = @kind AND i.name = @name
            """);
        Add(check, "tenant", tenant);
        Add(check, "lease", lease);
        Add(check, "epoch", epoch);
        Add(check, "kind", item.Kind);
        Add(check, "name", item.Name);
        return Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken)) == 1;
    }

    public async Task DetachAsync(string tenant, string lease, LeaseItem item, CancellationToken cancellationToken)
    {
        await RunGroupedAsync(
            "DELETE FROM oc_coord_lease_item WHERE tenant = @tenant AND lease = @lease AND kind = @kind AND name = @name",
            ("tenant", tenant), ("lease", lease), ("kind", item.Kind), ("name", item.Name));
    }

    public async Task<List<string>> ListLeasesAsync(string tenant, string? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var select = Command(connection, null, $"""
            SELECT id FROM oc_coord_lease WHERE tenant = @tenant AND ended = {False} AND id > @after ORDER BY id LIMIT @limit
            """);
        Add(select, "tenant", tenant);
        Add(select, "after", after ?? "");
        Add(select, "limit", limit);
        var ids = new List<string>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    public async Task<LockRow> TakeLockAsync(string tenant, string kind, string name, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var take = Command(connection, null, """
            INSERT INTO oc_coord_lock (tenant, kind, name, epoch) VALUES (@tenant, @kind, @name, 1)
            ON CONFLICT (tenant, kind, name) DO UPDATE SET epoch = oc_coord_lock.epoch + 1
            RETURNING epoch, last_token, holder_lease, holder_token, acquired_at, holder_value
            """);
        Add(take, "tenant", tenant);
        Add(take, "kind", kind);
        Add(take, "name", name);
        await using var reader = await take.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var holder = reader.IsDBNull(2)
            ? null
            : new LockHolder(reader.GetString(2), reader.GetInt64(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), reader.IsDBNull(5) ? null : reader.GetString(5));
        return new LockRow(reader.GetInt64(0), reader.GetInt64(1), holder);
    }

    public async Task SaveLockAsync(string tenant, string kind, string name, long epoch, long lastToken, LockHolder? holder, CancellationToken cancellationToken)
    {
        var saved = await RunGroupedAsync("""
            UPDATE oc_coord_lock SET last_token = @last, holder_lease = @lease, holder_token = @token, acquired_at = @acquired, holder_value = @value
            WHERE tenant = @tenant AND kind = @kind AND name = @name AND epoch = @epoch AND last_token <= @last
            """,
            ("tenant", tenant), ("kind", kind), ("name", name), ("value", holder?.Value), ("epoch", epoch), ("last", lastToken),
            ("lease", holder?.Lease), ("token", holder?.Token), ("acquired", holder?.AcquiredAt.ToUnixTimeMilliseconds()));
        if (saved != 1)
        {
            throw new CoordinationFencedException($"{kind} {tenant}/{name} is held by an activation newer than epoch {epoch}");
        }
    }

    public async Task<bool> SaveGrantToAttachedAsync(string tenant, string kind, string name, long epoch, long lastToken, LockHolder holder, CancellationToken cancellationToken)
    {
        // The lease checks of AttachAsync, on the item row the lease already has. A lease marked
        // 1.5 TTL ago or more has ended by the bound (docs/coordination.md) even if no activation
        // recorded it yet: the lease grain decides that one, through the long way.
        var saved = await RunGroupedAsync($"""
            UPDATE oc_coord_lock SET last_token = @last, holder_lease = @lease, holder_token = @token, acquired_at = @acquired, holder_value = @value
            WHERE tenant = @tenant AND kind = @kind AND name = @name AND epoch = @epoch AND last_token <= @last
            AND EXISTS (
                SELECT 1 FROM oc_coord_lease l JOIN oc_coord_lease_item i ON i.tenant = l.tenant AND i.lease = l.id
                WHERE l.tenant = @tenant AND l.id = @lease AND l.ended = {False} AND {Now} - l.marked_at < l.ttl_ms * 3 / 2
                AND i.kind = @kind AND i.name = @name)
            """,
            ("tenant", tenant), ("kind", kind), ("name", name), ("value", holder.Value), ("epoch", epoch), ("last", lastToken),
            ("lease", holder.Lease), ("token", holder.Token), ("acquired", holder.AcquiredAt.ToUnixTimeMilliseconds()));
        if (saved == 1)
        {
            return true;
        }

        // Nothing written: the lease no longer qualifies, or a newer activation holds the lock.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var check = Command(connection, null,
            "SELECT count(*) FROM oc_coord_lock WHERE tenant = @tenant AND kind = @kind AND name = @name AND epoch = @epoch AND last_token <= @last");
        Add(check, "tenant", tenant);
        Add(check, "kind", kind);
        Add(check, "name", name);
        Add(check, "epoch", epoch);
        Add(check, "last", lastToken);
        if (Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken)) != 1)
        {
            throw new CoordinationFencedException($"{kind} {tenant}/{name} is held by an activation newer than epoch {epoch}");
        }

        return false;
    }

    private async Task FencedLeaseUpdateAsync(string assignment, string tenant, string id, long epoch, CancellationToken cancellationToken)
    {
        var updated = await RunGroupedAsync(
            $"UPDATE oc_coord_lease SET {assignment} WHERE tenant = @tenant AND id = @id AND epoch = @epoch",
            ("tenant", tenant), ("id", id), ("epoch", epoch));
        if (updated != 1)
        {
            throw new CoordinationFencedException($"lease {tenant}/{id} is held by an activation newer than epoch {epoch}");
        }
    }

    /// <summary>Runs one statement in the next group commit and answers the rows it changed, once committed.</summary>
    private async Task<int> RunGroupedAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        var statement = new Statement(sql, parameters);
        await _writes.Add(statement).Stored;
        return statement.RowsAffected;
    }

    private async Task RunGroupAsync(WriteGroup<Statement> group)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        if (connection.CanCreateBatch)
        {
            // PostgreSQL: one round trip, and one implicit transaction for the whole batch.
            await using var batch = connection.CreateBatch();
            foreach (var statement in group.Writes)
            {
                var command = batch.CreateBatchCommand();
                command.CommandText = statement.Sql;
                foreach (var (name, value) in statement.Parameters)
                {
                    var parameter = command.CreateParameter();
                    parameter.ParameterName = name;
                    parameter.Value = value ?? DBNull.Value;
                    command.Parameters.Add(parameter);
                }

                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync();
            for (var i = 0; i < group.Writes.Count; i++)
            {
                group.Writes[i].RowsAffected = batch.BatchCommands[i].RecordsAffected;
            }

            return;
        }

        // SQLite: one statement after the other, in one transaction.
        await using var transaction = await connection.BeginTransactionAsync();
        foreach (var statement in group.Writes)
        {
            await using var command = Command(connection, transaction, statement.Sql);
            foreach (var (name, value) in statement.Parameters)
            {
                Add(command, name, value);
            }

            statement.RowsAffected = await command.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
    }

    /// <summary>One statement of a group commit; <see cref="RowsAffected"/> is its answer once the group committed.</summary>
    private sealed class Statement(string sql, (string Name, object? Value)[] parameters)
    {
        public string Sql { get; } = sql;

        public (string Name, object? Value)[] Parameters { get; } = parameters;

        public int RowsAffected { get; set; }
    }
}
