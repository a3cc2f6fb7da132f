using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Orleans.Configuration;
using Orleans.Storage;
using OrleansCompute.Grains.Storage;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>
/// Writes transactional state rows for every participant on this silo, with group commit: while
/// one batch is being committed, the Stores that arrive gather, and the next batch writes them all
/// in one statement (one round trip, one PostgreSQL commit), each row still compare-and-set on its
/// own ETag. A transfer's prepares, commit record and confirmations from concurrent transactions
/// thus share commits, which is how a transaction costs fewer commits than it has Store calls.
/// The group commit is a <see cref="WriteCoalescer{T}"/> on the thread pool (its callers are the
/// participants of every grain on the silo); a failed batch fails its writes only
/// (<see cref="FlushFailure.FailGroup"/>), since each row stands on its own ETag.
///
/// Watch: the changes a Store commits for a transactional key are logged by the same statement,
/// and so in the same PostgreSQL transaction, as its row (docs/coordination.md, "Watch"). Only the
/// rows whose compare-and-set held log anything. Each change takes the next revision of its
/// shard's feed (<c>oc_txn_feed</c>), bumped in that statement; the bump holds the feed row's lock
/// until the commit, so one feed's commits are serialized and revision order is commit order.
/// </summary>
public sealed partial class TransactionalStateWriter : IAsyncDisposable
{
    /// <summary>Most rows per statement, so one batch never grows without bound.</summary>
    public const int MaxBatch = 512;

    // The changes are numbered before the compare-and-sets, so each row stores the revision of its
    // last change with its state (015_txn_key_revision.sql) in this same statement; a row cannot
    // be updated twice in one statement. The feed rows are bumped by every change the batch
    // carries: a row whose compare fails logs nothing, and its numbers are skipped, never reused,
    // as a failed commit's are on a plain shard. Every writer takes the feed rows first, in key
    // order, then the state rows.
    private const string WriteSql = """
        WITH input AS (
            SELECT * FROM unnest(@grain_ids, @state_names, @expected, @records) AS i(grain_id, state_name, expected, record)
        ), changes AS (
            -- The changes the batch carries, numbered per feed in the batch's order.
            SELECT c.*, row_number() OVER (PARTITION BY c.table_id, c.shard ORDER BY c.ord) AS nth
            FROM unnest(@c_grain_ids, @c_state_names, @c_tables, @c_shards, @c_keys, @c_values, @c_versions)
                 WITH ORDINALITY AS c(grain_id, state_name, table_id, shard, key, value, version, ord)
        ), bumped AS (
            -- In key order, so two batches that share feeds lock them in the same order.
            INSERT INTO oc_txn_feed AS f (table_id, shard, revision)
            SELECT table_id, shard, count(*) FROM changes GROUP BY table_id, shard ORDER BY table_id, shard
            ON CONFLICT (table_id, shard) DO UPDATE SET revision = f.revision + excluded.revision
            RETURNING f.table_id, f.shard, f.revision
        ), counted AS (
            SELECT table_id, shard, count(*) AS n FROM changes GROUP BY table_id, shard
        ), numbered AS (
            SELECT c.grain_id, c.state_name, c.table_id, c.shard, c.key, c.value, c.version, b.revision - n.n + c.nth AS revision
            FROM changes c
            JOIN bumped b ON b.table_id = c.table_id AND b.shard = c.shard
            JOIN counted n ON n.table_id = c.table_id AND n.shard = c.shard
        ), last_change AS (
            SELECT grain_id, state_name, max(revision) AS revision FROM numbered GROUP BY grain_id, state_name
        ), updated AS (
            UPDATE oc_txn_state s SET etag = s.etag + 1, record = i.record, modified_at = now(), revision = COALESCE(l.revision, s.revision)
            FROM input i
            LEFT JOIN last_change l ON l.grain_id = i.grain_id AND l.state_name = i.state_name
            WHERE s.service_id = @service_id
              AND s.grain_id = i.grain_id AND s.state_name = i.state_name AND s.etag = i.expected
            RETURNING s.grain_id, s.state_name, s.etag, s.revision
        ), logged AS (
            -- Only the changes of the rows that were written.
            INSERT INTO oc_kv_change (table_id, shard, revision, key, value, version)
            SELECT n.table_id, n.shard, n.revision, n.key, n.value, n.version
            FROM numbered n
            JOIN updated s ON s.grain_id = n.grain_id AND s.state_name = n.state_name
        )
        SELECT grain_id, state_name, etag, revision FROM updated
        """;

    // A load fences: it moves the row's ETag on (creating an empty row when there is none), so a
    // Store sent before it can no longer land. Without it, a Store whose answer was lost (a cut
    // between the silo and PostgreSQL) could still arrive, committed by TCP's retransmission after
    // the cut healed, and change the row after a reload had read it: the transaction queue would
    // have decided on the state it read (a commit record not there: abort the participants) while
    // the row went on to hold the commit. An empty record is a row with no state yet.
    // Loads are group-committed as Stores are (a cold scan page activates hundreds of keys at
    // once), each row once per statement and in key order, so that batches of different silos
    // that share rows lock them in the same order.
    private const string LoadSql = """
        INSERT INTO oc_txn_state AS s (service_id, grain_id, state_name, etag, record)
        SELECT @service_id, i.grain_id, i.state_name, 1, ''::bytea
        FROM unnest(@grain_ids, @state_names) AS i(grain_id, state_name)
        ORDER BY i.grain_id, i.state_name
        ON CONFLICT (service_id, grain_id, state_name) DO UPDATE SET etag = s.etag + 1
        RETURNING s.grain_id, s.state_name, s.etag, s.record, s.revision
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _serviceId;
    private readonly ILogger<TransactionalStateWriter> _logger;
    private readonly WriteCoalescer<PendingWrite> _writes;
    private readonly WriteCoalescer<PendingLoad> _loads;
    private readonly IGrainFactory _grains;
    private volatile bool _disposed;

    public TransactionalStateWriter(NpgsqlDataSource dataSource, IOptions<ClusterOptions> cluster, IGrainFactory grains, ILogger<TransactionalStateWriter> logger)
    {
        _grains = grains;
        _dataSource = dataSource;
        _serviceId = cluster.Value.ServiceId;
        _logger = logger;
        _writes = new WriteCoalescer<PendingWrite>(WriteBatchAsync, FlushFailure.FailGroup, MaxBatch, TaskScheduler.Default);
        _loads = new WriteCoalescer<PendingLoad>(LoadBatchAsync, FlushFailure.FailGroup, MaxBatch, TaskScheduler.Default);
    }

    /// <summary>
    /// The row of one participant's state at a new ETag, fencing off every write sent before
    /// (<see cref="LoadSql"/>), with the revision of the last change its committed state logged
    /// (null: none logged, or none since step 015). An empty record: the participant has no state yet.
    /// </summary>
    public async Task<(long ETag, byte[] Record, long? Revision)> LoadAsync(string grainId, string stateName)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var load = new PendingLoad(grainId, stateName);
        await _loads.Add(load).Stored;
        return load.Row ?? throw new InvalidOperationException($"Loading the transactional state of {grainId} ({stateName}) answered no row.");
    }

    private async Task LoadBatchAsync(WriteGroup<PendingLoad> group)
    {
        // Two loads of one row in a batch (ON CONFLICT cannot touch a row twice in a statement)
        // share its new ETag: both fence off every Store sent before the batch, and between the
        // two, the first Store wins the compare-and-set as it would after one load.
        var rows = group.Writes.Select(l => (l.GrainId, l.StateName)).Distinct().ToList();
        await using var command = _dataSource.CreateCommand(LoadSql);
        command.Parameters.AddWithValue("service_id", _serviceId);
        command.Parameters.Add(new NpgsqlParameter<string[]>("grain_ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. rows.Select(r => r.GrainId)] });
        command.Parameters.Add(new NpgsqlParameter<string[]>("state_names", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. rows.Select(r => r.StateName)] });
        var loaded = new Dictionary<(string, string), (long, byte[], long?)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                loaded[(reader.GetString(0), reader.GetString(1))] =
                    (reader.GetInt64(2), reader.GetFieldValue<byte[]>(3), reader.IsDBNull(4) ? null : reader.GetInt64(4));
            }
        }

        foreach (var load in group.Writes)
        {
            load.Row = loaded.TryGetValue((load.GrainId, load.StateName), out var row) ? row : null;
        }
    }

    /// <summary>
    /// Replaces the row if it is still at <paramref name="expectedETag"/> (the one its load or last write answered) and
    /// answers the new ETag once durable, with the row's revision: that of the last of
    /// <paramref name="changes"/> when it logged any (they take consecutive revisions of their
    /// shard, in order), else the one the row had. Throws <see cref="InconsistentStateException"/>
    /// when the row moved on; any other exception leaves the outcome unknown, and the caller reloads.
    /// </summary>
    public async Task<(long ETag, long? Revision)> WriteAsync(
        string grainId, string stateName, long expectedETag, byte[] record, WatchedKey? watched = null, IReadOnlyList<KeyChange>? changes = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var write = new PendingWrite(grainId, stateName, expectedETag, record, watched, changes ?? []);
        await _writes.Add(write).Stored;
        return write.StoredETag is { } etag ? (etag, write.StoredRevision) : throw new InconsistentStateException(
            $"Transactional state of {grainId} ({stateName}) is no longer at the ETag it was read at; another activation wrote it.",
            expectedETag.ToString(CultureInfo.InvariantCulture), "unknown");
    }

    private async Task WriteBatchAsync(WriteGroup<PendingWrite> group)
    {
        var batch = group.Writes;
        try
        {
            await WriteRowsAsync(batch);
        }
        catch (Exception ex)
        {
            // The commit may or may not have happened: every write of the batch fails, and each
            // participant reloads its row before it writes again.
            LogBatchFailed(ex, batch.Count);
            throw;
        }
    }

    private async Task WriteRowsAsync(IReadOnlyList<PendingWrite> batch)
    {
        await using var command = _dataSource.CreateCommand(WriteSql);
        command.Parameters.AddWithValue("service_id", _serviceId);
        command.Parameters.Add(new NpgsqlParameter<string[]>("grain_ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. batch.Select(w => w.GrainId)] });
        command.Parameters.Add(new NpgsqlParameter<string[]>("state_names", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. batch.Select(w => w.StateName)] });
        command.Parameters.Add(new NpgsqlParameter<long[]>("expected", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = [.. batch.Select(w => w.ExpectedETag)] });
        command.Parameters.Add(new NpgsqlParameter<byte[][]>("records", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { TypedValue = [.. batch.Select(w => w.Record)] });

        var changes = batch.Where(w => w.Watched is not null).SelectMany(w => w.Changes.Select(c => (Write: w, Key: w.Watched!, Change: c))).ToList();
        command.Parameters.Add(new NpgsqlParameter<string[]>("c_grain_ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. changes.Select(c => c.Write.GrainId)] });
        command.Parameters.Add(new NpgsqlParameter<string[]>("c_state_names", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. changes.Select(c => c.Write.StateName)] });
        command.Parameters.Add(new NpgsqlParameter<Guid[]>("c_tables", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { TypedValue = [.. changes.Select(c => c.Key.TableId)] });
        command.Parameters.Add(new NpgsqlParameter<int[]>("c_shards", NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = [.. changes.Select(c => c.Key.Shard)] });
        command.Parameters.Add(new NpgsqlParameter<string[]>("c_keys", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. changes.Select(c => c.Key.Key)] });
        command.Parameters.Add(new NpgsqlParameter<byte[]?[]>("c_values", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { TypedValue = [.. changes.Select(c => c.Change.Value)] });
        command.Parameters.Add(new NpgsqlParameter<long[]>("c_versions", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = [.. changes.Select(c => c.Change.Version)] });

        var written = new Dictionary<(string, string), (long ETag, long? Revision)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                written[(reader.GetString(0), reader.GetString(1))] = (reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetInt64(3));
            }
        }

        // A row missing from the answer was not at its expected ETag: that write alone fails (WriteAsync).
        foreach (var write in batch)
        {
            var found = written.TryGetValue((write.GrainId, write.StateName), out var row);
            write.StoredETag = found ? row.ETag : null;
            write.StoredRevision = found ? row.Revision : null;
        }

        // Wake the watchers of the feeds this commit logged to. Only latency depends on it: a feed
        // that misses the call finds the changes in the log on its next look.
        foreach (var feed in changes.Where(c => c.Write.StoredETag is not null).Select(c => c.Key.FeedGrain).Distinct(StringComparer.Ordinal))
        {
            _ = _grains.GetGrain<OrleansCompute.Data.ITxnChangeFeedGrain>(feed).CommittedAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        await _loads.WhenIdleAsync();
        await _writes.WhenIdleAsync();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} transactional state writes failed; its participants will reload")]
    private partial void LogBatchFailed(Exception exception, int count);

    private sealed record PendingWrite(string GrainId, string StateName, long ExpectedETag, byte[] Record, WatchedKey? Watched, IReadOnlyList<KeyChange> Changes)
    {
        // Set by the flush before the group's task completes, read by the writer after.
        public long? StoredETag { get; set; }

        public long? StoredRevision { get; set; }
    }

    private sealed record PendingLoad(string GrainId, string StateName)
    {
        // Set by the flush before the group's task completes, read by the loader after.
        public (long ETag, byte[] Record, long? Revision)? Row { get; set; }
    }
}
