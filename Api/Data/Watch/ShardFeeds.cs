using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Data;

namespace OrleansCompute.Api.Data.Watch;

/// <summary>
/// One feed per shard for this whole Api process: a single long poll to the shard grain, whose
/// answers fan out to every local watch stream of that shard. A hundred watchers of a table cost
/// the shard one outstanding call, not a hundred, and never a store read per event per watcher.
///
/// A feed never waits for a subscriber: it offers each batch to each stream's bounded buffer and
/// marks a stream whose buffer is full as lagged. A lagged stream fills the gap itself from the
/// shard (its memory tail, or the change log once), so a slow or stuck client holds up neither
/// the other watchers nor the shard's writes. The feed stops when its last stream leaves.
/// </summary>
public sealed partial class ShardFeeds(IOptions<WatchLimits> limits, IOptions<RequestDeadlineOptions> deadlines, ILogger<ShardFeeds> logger)
{
    private readonly ConcurrentDictionary<string, ShardFeed> _feeds = new(StringComparer.Ordinal);
    private readonly TimeSpan _pollWait = limits.Value.ProgressInterval < deadlines.Value.LongPollWait ? limits.Value.ProgressInterval : deadlines.Value.LongPollWait;
    private readonly ILogger _logger = logger;

    /// <summary>Feeds running now (for tests and metrics).</summary>
    public int Running => _feeds.Count;

    /// <summary>Subscribes a stream's buffer to the shard's feed, starting the feed if none runs. Dispose to leave.</summary>
    public FeedSubscription Subscribe(string shardKey, IChangeFeedGrain source, int index, ChannelWriter<FeedBatch> sink)
    {
        while (true)
        {
            var feed = _feeds.GetOrAdd(shardKey, key => new ShardFeed(this, key, source));
            var subscription = new FeedSubscription(feed, index, sink);
            if (feed.TryAdd(subscription))
            {
                return subscription;
            }

            _feeds.TryRemove(KeyValuePair.Create(shardKey, feed)); // it was stopping; start a fresh one
        }
    }

    private void Forget(ShardFeed feed) => _feeds.TryRemove(KeyValuePair.Create(feed.ShardKey, feed));

    /// <summary>The long poll of one shard, shared by the streams subscribed to it.</summary>
    public sealed class ShardFeed(ShardFeeds owner, string shardKey, IChangeFeedGrain shard)
    {
        private readonly Lock _lock = new();
        private readonly List<FeedSubscription> _subscriptions = [];
        private bool _running;
        private bool _stopped;
        private long _head = -1;

        public string ShardKey => shardKey;

        /// <summary>The revision through which the feed has offered every change; -1 before its first answer.</summary>
        public long Head => Volatile.Read(ref _head);

        internal bool TryAdd(FeedSubscription subscription)
        {
            lock (_lock)
            {
                if (_stopped)
                {
                    return false;
                }

                _subscriptions.Add(subscription);
                if (!_running)
                {
                    _running = true;
                    // The feed outlives the stream that started it: it takes none of that request's
                    // context with it (its deadline, if it had one, or its cancellation).
                    using (ExecutionContext.SuppressFlow())
                    {
                        _ = Task.Run(PollAsync);
                    }
                }

                return true;
            }
        }

        internal void Remove(FeedSubscription subscription)
        {
            lock (_lock)
            {
                _subscriptions.Remove(subscription);
            }
        }

        private async Task PollAsync()
        {
            var backoff = TimeSpan.FromMilliseconds(20);
            var wait = owner._pollWait;
            while (true)
            {
                var after = Head;
                var polled = Stopwatch.GetTimestamp();
                ShardChanges? answer = null;
                try
                {
                    // Bounded well below Orleans' 30 s response timeout: a poll stuck on a silo that
                    // just died is given up within seconds and sent again, to the shard's next activation.
                    using var patience = new CancellationTokenSource(wait + PollSlack);
                    answer = await shard.ReadChangesAsync(after, MaxPerPoll, after < 0 ? TimeSpan.Zero : wait, patience.Token);
                    backoff = TimeSpan.FromMilliseconds(20);
                }
                catch (Exception ex)
                {
                    // The shard's silo died, the shard is moving, or the store failed: the next
                    // activation continues the shard's revisions, so polling again loses nothing.
                    LogPollFailed(owner._logger, ex, shardKey, backoff.TotalMilliseconds);
                }

                if (answer is not null)
                {
                    if (answer.Status == ShardChangesStatus.Compacted)
                    {
                        // Only a feed cut off longer than the retention: start from the shard's now;
                        // each stream finds its own gap and answers it.
                        Volatile.Write(ref _head, -1);
                    }
                    else
                    {
                        // A first answer tells only the shard's revision: streams behind it fill up to it.
                        Offer(new FeedBatch(0, after < 0 ? answer.Head : after, answer));
                        Volatile.Write(ref _head, answer.Head);
                    }
                }

                var ended = answer is { Status: ShardChangesStatus.Dropped or ShardChangesStatus.NoChangeLog } or { Status: ShardChangesStatus.Sealed, Changes.Count: 0 };
                lock (_lock)
                {
                    if (_subscriptions.Count == 0 || ended)
                    {
                        _stopped = true;
                        owner.Forget(this);
                        return;
                    }
                }

                if (answer is null)
                {
                    await Task.Delay(backoff);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                }
                else if (answer.Changes.Count == 0 && after >= 0 && Stopwatch.GetElapsedTime(polled) < QuickEmpty)
                {
                    // An empty answer at once: the shard is leaving (a move); give it a moment to go.
                    await Task.Delay(QuickEmpty);
                }
            }
        }

        private void Offer(FeedBatch batch)
        {
            FeedSubscription[] subscriptions;
            lock (_lock)
            {
                subscriptions = [.. _subscriptions];
            }

            foreach (var subscription in subscriptions)
            {
                if (!subscription.Sink.TryWrite(batch with { Shard = subscription.Index }))
                {
                    subscription.Lagged = true;
                }
            }
        }
    }

    private const int MaxPerPoll = 1000;

    private static readonly TimeSpan PollSlack = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan QuickEmpty = TimeSpan.FromMilliseconds(50);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Watch feed of {Shard}: the poll failed; polling again in {Milliseconds} ms")]
    private static partial void LogPollFailed(ILogger logger, Exception exception, string shard, double milliseconds);
}

/// <summary>
/// One batch a feed offers: the shard's answer to a poll after revision <see cref="After"/>, so it
/// holds every change in (After, Changes.Head]. <see cref="Shard"/> is the stream's index of the shard.
/// </summary>
public sealed record FeedBatch(int Shard, long After, ShardChanges Changes);

/// <summary>A stream's place in one shard's feed. <see cref="Lagged"/>: the feed dropped a batch because the stream's buffer was full.</summary>
public sealed class FeedSubscription(ShardFeeds.ShardFeed feed, int index, ChannelWriter<FeedBatch> sink) : IDisposable
{
    private volatile bool _lagged;

    public int Index => index;

    public ChannelWriter<FeedBatch> Sink => sink;

    public ShardFeeds.ShardFeed Feed => feed;

    public bool Lagged
    {
        get => _lagged;
        set => _lagged = value;
    }

    public void Dispose() => feed.Remove(this);
}
