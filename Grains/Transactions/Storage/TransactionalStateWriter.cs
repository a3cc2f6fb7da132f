using Microsoft.Extensions.Logging;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Orleans.Configuration;
using Orleans.Storage;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>
/// Writes transactional state rows for every participant on this silo, with group commit: while
/// one batch is being committed, the Stores that arrive gather, and the next batch writes them all
/// in one statement (one round trip, one PostgreSQL commit), each row still compare-and-set on its
/// own ETag. A transfer's prepares, commit record and confirmations from concurrent transactions
/// thus share commits, which is how a transaction costs fewer commits than it has Store calls.
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
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    public TransactionalStateWriter(NpgsqlDataSource dataSource, IOptions<ClusterOptions> cluster, ILogger<TransactionalStateWriter> logger)
    {
        _dataSource = dataSource;
        _serviceId = cluster.Value.ServiceId;
        _logger = logger;
        _loop = Task.Run(WriteLoopAsync);
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
    public Task<long> WriteAsync(string grainId, string stateName, long? expectedETag, byte[] record)
    {
        var write = new PendingWrite(grainId, stateName, expectedETag, record);
        if (!_queue.Writer.TryWrite(write))
        {
            throw new ObjectDisposedException(nameof(TransactionalStateWriter));
        }

        return write.Done.Task;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }

            try
            {
                await WriteBatchAsync(batch);
            }
            catch (Exception ex)
            {
                // The commit may or may not have happened: every write of the batch fails, and each
                // participant reloads its row before it writes again.
                LogBatchFailed(ex, batch.Count);
                foreach (var write in batch)
                {
                    write.Done.TrySetException(ex);
                }
            }

            batch.Clear();
        }
    }

    private async Task WriteBatchAsync(List<PendingWrite> batch)
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

        foreach (var write in batch)
        {
            if (written.TryGetValue((write.GrainId, write.StateName), out var etag))
            {
                write.Done.TrySetResult(etag);
            }
            else
            {
                write.Done.TrySetException(new InconsistentStateException(
                    $"Transactional state of {write.GrainId} ({write.StateName}) is no longer at the ETag it was read at; another activation wrote it.",
                    write.ExpectedETag?.ToString() ?? "", "unknown"));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} transactional state writes failed; its participants will reload")]
    private partial void LogBatchFailed(Exception exception, int count);

    private sealed record PendingWrite(string GrainId, string StateName, long? ExpectedETag, byte[] Record)
    {
        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
