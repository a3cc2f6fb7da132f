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
/// </summary>
public sealed partial class TransactionalStateWriter : IAsyncDisposable
{
    /// <summary>Most rows per statement, so one batch never grows without bound.</summary>
    public const int MaxBatch = 512;

    private const string WriteSql = """
        WITH input AS (
            SELECT * FROM unnest(@grain_ids, @state_names, @expected, @records) AS i(grain_id, state_name, expected, record)
        ), updated AS (
            UPDATE oc_txn_state s SET etag = s.etag + 1, record = i.record, modified_at = now()
            FROM input i
            WHERE i.expected IS NOT NULL AND s.service_id = @service_id
              AND s.grain_id = i.grain_id AND s.state_name = i.state_name AND s.etag = i.expected
            RETURNING s.grain_id, s.state_name, s.etag
        ), inserted AS (
            INSERT INTO oc_txn_state (service_id, grain_id, state_name, etag, record)
            SELECT @service_id, grain_id, state_name, 1, record FROM input WHERE expected IS NULL
            ON CONFLICT DO NOTHING
            RETURNING grain_id, state_name, etag
        )
        SELECT grain_id, state_name, etag FROM updated
        UNION ALL
        SELECT grain_id, state_name, etag FROM inserted
        """;

    private const string LoadSql = """
        SELECT etag, record FROM oc_txn_state WHERE service_id = @service_id AND grain_id = @grain_id AND state_name = @state_name
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _serviceId;
    private readonly ILogger<TransactionalStateWriter> _logger;
    private readonly WriteCoalescer<PendingWrite> _writes;
    private volatile bool _disposed;

    public TransactionalStateWriter(NpgsqlDataSource dataSource, IOptions<ClusterOptions> cluster, ILogger<TransactionalStateWriter> logger)
    {
        _dataSource = dataSource;
        _serviceId = cluster.Value.ServiceId;
        _logger = logger;
        _writes = new WriteCoalescer<PendingWrite>(WriteBatchAsync, FlushFailure.FailGroup, MaxBatch, TaskScheduler.Default);
    }

    /// <summary>The row of one participant's state, or null when it has none yet.</summary>
    public async Task<(long ETag, byte[] Record)?> LoadAsync(string grainId, string stateName)
    {
        await using var command = _dataSource.CreateCommand(LoadSql);
        command.Parameters.AddWithValue("service_id", _serviceId);
        command.Parameters.AddWithValue("grain_id", grainId);
        command.Parameters.AddWithValue("state_name", stateName);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1)) : null;
    }

    /// <summary>
    /// Replaces the row if it is still at <paramref name="expectedETag"/> (null: creates it) and
    /// answers the new ETag once durable. Throws <see cref="InconsistentStateException"/> when the
    /// row moved on; any other exception leaves the outcome unknown, and the caller reloads.
    /// </summary>
    public async Task<long> WriteAsync(string grainId, string stateName, long? expectedETag, byte[] record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var write = new PendingWrite(grainId, stateName, expectedETag, record);
        await _writes.Add(write).Stored;
        return write.StoredETag ?? throw new InconsistentStateException(
            $"Transactional state of {grainId} ({stateName}) is no longer at the ETag it was read at; another activation wrote it.",
            expectedETag?.ToString() ?? "", "unknown");
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
        command.Parameters.Add(new NpgsqlParameter<long?[]>("expected", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = [.. batch.Select(w => w.ExpectedETag)] });
        command.Parameters.Add(new NpgsqlParameter<byte[][]>("records", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { TypedValue = [.. batch.Select(w => w.Record)] });

        var written = new Dictionary<(string, string), long>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                written[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
            }
        }

        // A row missing from the answer was not at its expected ETag: that write alone fails (WriteAsync).
        foreach (var write in batch)
        {
            write.StoredETag = written.TryGetValue((write.GrainId, write.StateName), out var etag) ? etag : null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        await _writes.WhenIdleAsync();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} transactional state writes failed; its participants will reload")]
    private partial void LogBatchFailed(Exception exception, int count);

    private sealed record PendingWrite(string GrainId, string StateName, long? ExpectedETag, byte[] Record)
    {
        // Set by the flush before the group's task completes, read by the writer after.
        public long? StoredETag { get; set; }
    }
}
