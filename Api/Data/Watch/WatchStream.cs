using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using OrleansCompute.Data;
using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Data.Watch;

/// <summary>
/// One watch stream (one SSE connection): the changes of a table's keys under a prefix, after a
/// cursor, shard by shard.
///
/// Per shard the stream keeps the revision it delivered through. Every batch a feed offers says
/// which revision it follows (<see cref="FeedBatch.After"/>); when that is above the stream's, the
/// stream missed something (it joined late, or its buffer was full) and reads the gap from the
/// shard itself first. Changes at or below the stream's revision are skipped. So each shard's
/// changes arrive in revision order, none twice and none missed, and a key lives in one shard, so
/// that is per-key order.
///
/// A reshard seals each old shard after its last change; the stream drains every old shard to
/// its end, then goes on with the new layout's shards from their first change. Keys move to the
/// new layout only after their old shard sealed, so every key's old changes come before its new ones.
/// </summary>
public sealed class WatchStream
{
    private readonly TableClient _data;
    private readonly IGrainFactory _grains;
    private readonly ShardFeeds _feeds;
    private readonly WatchLimits _limits;
    private readonly string _tenant;
    private readonly string _table;
    private readonly string _prefix;
    private readonly bool _encrypted;
    private readonly bool _transactional;
    private List<KvChange>[] _pending;

    private Guid _layout;
    private long[] _after;
    private bool[] _drained;
    private IChangeFeedGrain[] _shards;
    private string[] _shardKeys;

    private WatchStream(TableClient data, IGrainFactory grains, ShardFeeds feeds, WatchLimits limits,
        string tenant, TableInfo table, string prefix, Guid layout, long[] after)
    {
        (_data, _grains, _feeds, _limits, _tenant, _table, _prefix, _encrypted, _transactional) = (data, grains, feeds, limits, tenant, table.Name, prefix, table.Encrypted, table.Transactional);
        _pending = [.. after.Select(_ => new List<KvChange>())];
        (_layout, _after) = (layout, after);
        _drained = new bool[after.Length];
        (_shardKeys, _shards) = SourcesOf(layout, after.Length);
    }

    /// <summary>The stream's cursor now: what a client hands back as Last-Event-ID to resume here.</summary>
    public WatchCursor Cursor => new(_layout, (long[])_after.Clone());

    /// <summary>
    /// What opening a stream found: the stream, or the shard whose history the cursor is older than,
    /// or (<see cref="NoChangeLog"/>) that the table's store keeps no change log to watch.
    /// </summary>
    public readonly record struct Opening(WatchStream? Stream, int Shard, long Cursor, long OldestRevision, bool NoChangeLog = false);

    /// <summary>
    /// Opens a stream at <paramref name="cursor"/> (null: from now) on the layout it names, reading
    /// each shard's first page, so a compacted cursor is answered before any event is sent.
    /// </summary>
    public static async Task<Opening> OpenAsync(TableClient data, IGrainFactory grains, ShardFeeds feeds, WatchLimits limits,
        string tenant, TableInfo table, string prefix, Guid layout, long[]? after, CancellationToken cancellationToken)
    {
        var shards = after?.Length ?? ShardsOf(table, layout);
        var stream = new WatchStream(data, grains, feeds, limits, tenant, table, prefix, layout, after ?? [.. Enumerable.Repeat(-1L, shards)]);
        // Every shard at once: one slow shard costs the open its own time, not the sum of all.
        var answers = await Task.WhenAll(Enumerable.Range(0, shards)
            .Select(s => stream._shards[s].ReadChangesAsync(stream._after[s], MaxPerRead, TimeSpan.Zero, cancellationToken)));
        for (var s = 0; s < shards; s++)
        {
            var answer = answers[s];
            if (answer.Status == ShardChangesStatus.NoChangeLog)
            {
                return new Opening(null, s, 0, 0, NoChangeLog: true);
            }

            if (answer.Status == ShardChangesStatus.Compacted)
            {
                return new Opening(null, s, stream._after[s], answer.Floor + 1);
            }

            if (stream._after[s] < 0)
            {
                stream._after[s] = answer.Head; // from now
                continue;
            }

            stream._pending[s].AddRange(answer.Changes);
            if (answer.Status == ShardChangesStatus.Sealed && answer.Changes.Count == 0)
            {
                stream._drained[s] = true;
            }
        }

        return new Opening(stream, 0, 0, 0);
    }

    /// <summary>The shard count of <paramref name="layout"/>: the table's current, resharding-to or retired one.</summary>
    public static int ShardsOf(TableInfo table, Guid layout) =>
        layout == table.Id ? table.Shards
        : table.Resharding is { } r && r.ToId == layout ? r.To
        : table.Retired?.FirstOrDefault(l => l.Id == layout)?.Shards ?? 0;

    public async IAsyncEnumerable<SseItem<string>> EventsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            var buffer = Channel.CreateBounded<FeedBatch>(new BoundedChannelOptions(_limits.StreamBuffer) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
            var subscriptions = _shardKeys.Select((key, s) => _feeds.Subscribe(key, _shards[s], s, buffer.Writer)).ToArray();
            try
            {
                // What opening read (a resumed cursor's first page), and the rest of each shard's backlog.
                for (var s = 0; s < _shards.Length; s++)
                {
                    foreach (var item in Deliver(s, _pending[s]))
                    {
                        yield return item;
                    }

                    _pending[s].Clear();
                    await foreach (var item in FillAsync(s, long.MaxValue, cancellationToken))
                    {
                        yield return item;
                    }
                }

                // On the monotonic clock: a wall-clock step back must not hold progress events back.
                var sinceProgress = Stopwatch.StartNew();
                while (!_drained.All(d => d))
                {
                    var remaining = _limits.ProgressInterval - sinceProgress.Elapsed;
                    if (remaining > TimeSpan.Zero && !buffer.Reader.TryPeek(out _))
                    {
                        using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        tick.CancelAfter(remaining);
                        try
                        {
                            await buffer.Reader.WaitToReadAsync(tick.Token);
                        }
                        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                        {
                        }
                    }

                    while (buffer.Reader.TryRead(out var batch))
                    {
                        if (batch.Changes.Status == ShardChangesStatus.Dropped)
                        {
                            yield return Notice("dropped", $"Table '{_table}' was dropped.");
                            yield break;
                        }

                        var s = batch.Shard;
                        if (_drained[s])
                        {
                            continue;
                        }

                        if (batch.After > _after[s])
                        {
                            // A gap: this stream missed batches (it joined late or its buffer was full).
                            await foreach (var item in FillAsync(s, batch.After, cancellationToken))
                            {
                                yield return item;
                            }
                        }

                        foreach (var item in Deliver(s, batch.Changes.Changes))
                        {
                            yield return item;
                        }

                        if (batch.After <= _after[s])
                        {
                            _after[s] = Math.Max(_after[s], batch.Changes.Head);
                        }

                        if (batch.Changes is { Status: ShardChangesStatus.Sealed, Changes.Count: 0 } && _after[s] >= batch.Changes.Head)
                        {
                            _drained[s] = true;
                        }
                    }

                    if (sinceProgress.Elapsed >= _limits.ProgressInterval)
                    {
                        // Streams whose buffer overflowed catch up from the shard now, even if it went quiet.
                        foreach (var subscription in subscriptions.Where(x => x.Lagged))
                        {
                            subscription.Lagged = false;
                            await foreach (var item in FillAsync(subscription.Index, long.MaxValue, cancellationToken))
                            {
                                yield return item;
                            }
                        }

                        yield return new SseItem<string>(ProgressData(), "progress") { EventId = Cursor.ToString() };
                        sinceProgress.Restart();
                    }
                }
            }
            finally
            {
                foreach (var subscription in subscriptions)
                {
                    subscription.Dispose();
                }
            }

            if (_compacted is { } compacted)
            {
                yield return Notice("compacted", compacted);
                yield break;
            }

            // Every shard of this layout sealed and drained: a reshard moved the keys on.
            if (await NextLayoutAsync(cancellationToken) is not { } next)
            {
                yield return Notice("dropped", $"Table '{_table}' was dropped.");
                yield break;
            }

            (_layout, _after, _drained) = (next.Id, new long[next.Shards], new bool[next.Shards]);
            (_shardKeys, _shards) = SourcesOf(next.Id, next.Shards);
            _pending = [.. Enumerable.Range(0, next.Shards).Select(_ => new List<KvChange>())];
        }
    }

    private string? _compacted;

    // Where each shard's changes come from: the shard grain of a plain table, or the change feed of
    // a transactional table's shard (written by its key grains' commits). The keys name the Api's
    // shared feeds; the "txn/" prefix keeps the two kinds apart.
    private (string[] Keys, IChangeFeedGrain[] Sources) SourcesOf(Guid layout, int shards)
    {
        if (_transactional)
        {
            var feedKeys = Enumerable.Range(0, shards).Select(s => TxnKeys.IndexGrain(_tenant, layout, s)).ToArray();
            return ([.. feedKeys.Select(k => "txn/" + k)], [.. feedKeys.Select(k => _grains.GetGrain<ITxnChangeFeedGrain>(k))]);
        }

        var shardKeys = Enumerable.Range(0, shards).Select(s => ShardMap.ShardKey(_tenant, layout, s, shards, _encrypted)).ToArray();
        return (shardKeys, [.. shardKeys.Select(k => _grains.GetGrain<IShardGrain>(k))]);
    }

    // Reads shard s's changes from the shard itself (its tail, or its change log) until the stream
    // has everything through `through` (long.MaxValue: through the shard's head).
    private async IAsyncEnumerable<SseItem<string>> FillAsync(int s, long through, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (_after[s] < through && !_drained[s])
        {
            var answer = await _shards[s].ReadChangesAsync(_after[s], MaxPerRead, TimeSpan.Zero, cancellationToken);
            if (answer.Status == ShardChangesStatus.Compacted)
            {
                // Fell behind past the retention: the stream cannot go on without a gap; say so and end.
                _compacted = $"This stream fell behind the retained history of shard {s} (oldest revision held {answer.Floor + 1}); start again without a cursor.";
                Array.Fill(_drained, true);
                yield break;
            }

            if (answer.Status == ShardChangesStatus.Dropped)
            {
                yield break; // the feed tells the stream
            }

            foreach (var item in Deliver(s, answer.Changes))
            {
                yield return item;
            }

            _after[s] = Math.Max(_after[s], answer.Head);
            if (answer is { Status: ShardChangesStatus.Sealed } && answer.Changes.Count == 0)
            {
                _drained[s] = true;
            }

            if (answer.Changes.Count < MaxPerRead)
            {
                yield break; // through the shard's head
            }
        }
    }

    private IEnumerable<SseItem<string>> Deliver(int s, IReadOnlyList<KvChange> changes)
    {
        foreach (var change in changes)
        {
            if (change.Revision <= _after[s])
            {
                continue; // delivered already
            }

            _after[s] = change.Revision;
            if (!change.Key.StartsWith(_prefix, StringComparison.Ordinal))
            {
                continue;
            }

            yield return new SseItem<string>(ChangeData(change), change.Value is null ? "delete" : "put") { EventId = Cursor.ToString() };
        }
    }

    // The layout the stream goes on with once its own is all sealed: the next retired one, or the
    // table's current (or resharding-to) layout; null when the table is gone.
    private async Task<RetiredLayout?> NextLayoutAsync(CancellationToken cancellationToken)
    {
        var table = await _data.Table(_tenant, _table).DescribeAsync(cancellationToken);
        if (table is null)
        {
            return null;
        }

        var chain = (table.Retired ?? []).Append(new RetiredLayout(table.Id, table.Shards)).ToList();
        if (table.Resharding is { } resharding)
        {
            chain.Add(new RetiredLayout(resharding.ToId, resharding.To));
        }

        var at = chain.FindIndex(l => l.Id == _layout);
        return at >= 0 && at + 1 < chain.Count ? chain[at + 1] : null;
    }

    private static string ChangeData(KvChange change)
    {
        using var buffer = new MemoryStream(128 + (change.Value?.Length ?? 0));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("key", change.Key);
            json.WritePropertyName("value");
            if (change.Value is { } value)
            {
                json.WriteRawValue(value, skipInputValidation: true);
            }
            else
            {
                json.WriteNullValue();
            }

            json.WriteNumber("version", change.Version);
            json.WriteNumber("revision", change.Revision);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private string ProgressData() => JsonSerializer.Serialize(new { cursor = Cursor.ToString(), revisions = _after });

    private static SseItem<string> Notice(string type, string detail) => new(JsonSerializer.Serialize(new { detail }), type);

    private const int MaxPerRead = 1000;
}
