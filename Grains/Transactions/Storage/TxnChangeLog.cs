using Npgsql;
using OrleansCompute.Data;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>
/// Reads the change log of one shard of a transactional table: the rows
/// <see cref="TransactionalStateWriter"/> logs with each commit, and the shard's feed row
/// (<c>oc_txn_feed</c>: the revision it reached and the retention's floor).
/// </summary>
public sealed class TxnChangeLog(NpgsqlDataSource dataSource)
{
    // One statement, one snapshot: the feed row and the changes agree, so a sweep cannot fall
    // between the floor and the rows, and the head covers every row read. The feed's commits are
    // serialized by its row lock, so a snapshot holds every revision up to the head it reads.
    // A drop marks the table's shard rows (oc_kv_shard.dropped, kept for good, as for plain
    // tables); reading the mark here costs one index lookup in a read the feed makes anyway.
    private const string ReadSql = """
        SELECT -1 AS revision, NULL AS key, NULL::bytea AS value,
               COALESCE((SELECT revision FROM oc_txn_feed WHERE table_id = @table AND shard = @shard), 0) AS version,
               COALESCE((SELECT log_floor FROM oc_txn_feed WHERE table_id = @table AND shard = @shard), 0) AS floor,
               EXISTS (SELECT 1 FROM oc_kv_shard WHERE table_id = @table AND shard = @shard AND dropped) AS dropped
        UNION ALL
        (SELECT revision, key, value, version, 0, false FROM oc_kv_change
         WHERE table_id = @table AND shard = @shard AND revision > @after
         ORDER BY revision LIMIT @limit)
        """;

    /// <summary>Up to <paramref name="limit"/> changes after <paramref name="after"/>, the feed's head, its floor and whether the table was dropped, read together.</summary>
    public async Task<TxnChangePage> ReadAsync(Guid tableId, int shard, long after, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ReadSql);
        command.Parameters.AddWithValue("table", tableId);
        command.Parameters.AddWithValue("shard", shard);
        command.Parameters.AddWithValue("after", Math.Max(after, 0));
        command.Parameters.AddWithValue("limit", limit);
        long head = 0, floor = 0;
        var dropped = false;
        var changes = new List<KvChange>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var revision = reader.GetInt64(0);
            if (revision < 0)
            {
                (head, floor, dropped) = (reader.GetInt64(3), reader.GetInt64(4), reader.GetBoolean(5));
                continue;
            }

            changes.Add(new KvChange(revision, reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2), reader.GetInt64(3)));
        }

        changes.Sort((a, b) => a.Revision.CompareTo(b.Revision)); // UNION ALL promises no order
        return new TxnChangePage(changes, head, floor, dropped);
    }
}

/// <summary>
/// Changes in revision order; the feed's highest revision (<see cref="Head"/>), the log's floor, and
/// whether the table was dropped (<see cref="Dropped"/>), from one snapshot.
/// </summary>
public sealed record TxnChangePage(IReadOnlyList<KvChange> Changes, long Head, long Floor, bool Dropped);
