using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansCompute.Deadlines;
using OrleansCompute.Grains.Storage;

namespace OrleansCompute.Tests.Unit;

/// <summary>
/// <see cref="WriteCoalescer{T}"/> alone, with a flush the test completes or fails by hand: on a
/// single-threaded context as on a grain's scheduler, and on the thread pool as the silo-wide writer.
/// </summary>
public class WriteCoalescerTests
{
    [Fact]
    public Task The_writes_of_one_turn_go_out_in_one_flush() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailAll);

        var tickets = new[] { writes.Add(1), writes.Add(2), writes.Add(3) };
        (await store.NextAsync()).Succeed();
        await Task.WhenAll(tickets.Select(t => t.Stored));

        Assert.Equal([1L, 2, 3], tickets.Select(t => t.Sequence));
        var group = Assert.Single(store.Calls);
        Assert.Equal([1, 2, 3], group.Writes);
        Assert.Equal((1L, 3L), (group.First, group.Last));
    });

    [Fact]
    public Task Writes_added_while_a_flush_runs_gather_into_the_next_one() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailAll);

        var first = writes.Add(1);
        var inFlight = await store.NextAsync();
        var later = Enumerable.Range(2, 20).Select(writes.Add).ToList();
        await Task.Yield();
        Assert.Single(store.Calls); // one flush at a time
        Assert.False(first.Stored.IsCompleted);

        inFlight.Succeed();
        await first.Stored;
        Assert.False(later[0].Stored.IsCompleted);
        (await store.NextAsync()).Succeed();
        await Task.WhenAll(later.Select(t => t.Stored));

        Assert.Equal(2, store.Calls.Count); // 21 writes, 2 flushes
        Assert.Equal(Enumerable.Range(2, 20), store.Calls[1].Writes);
        Assert.Equal((2L, 21L), (store.Calls[1].First, store.Calls[1].Last));
        await writes.WhenIdleAsync();
    });

    [Fact]
    public Task Groups_are_bounded_and_flushed_in_order() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailAll, maxGroup: 2);
        var completed = new List<long>();

        foreach (var ticket in Enumerable.Range(1, 5).Select(writes.Add))
        {
            _ = ticket.Stored.ContinueWith(_ => completed.Add(ticket.Sequence), TaskScheduler.FromCurrentSynchronizationContext());
        }

        for (var i = 0; i < 3; i++)
        {
            (await store.NextAsync()).Succeed();
        }

        await writes.WhenIdleAsync();
        await writes.WhenStoredAsync(5);
        while (completed.Count < 5)
        {
            await Task.Yield();
        }

        Assert.Equal([[1, 2], [3, 4], [5]], store.Calls.Select(c => c.Writes));
        Assert.Equal([1L, 2, 3, 4, 5], completed);
    });

    [Fact]
    public Task The_flush_runs_on_the_context_of_the_caller_that_started_it() => SerialContext.RunAsync(async () =>
    {
        var context = SynchronizationContext.Current;
        SynchronizationContext? seen = null;
        var writes = new WriteCoalescer<int>(
            async _ =>
            {
                seen = SynchronizationContext.Current;
                await Task.Yield();
                Assert.Same(context, SynchronizationContext.Current);
            },
            FlushFailure.FailAll);

        await writes.Add(1).Stored;

        Assert.Same(context, seen);
    });

    [Fact]
    public Task A_flush_that_fails_at_once_still_fails_a_caller_that_awaits_after_adding() => SerialContext.RunAsync(async () =>
    {
        var writes = new WriteCoalescer<int>(_ => throw new InvalidOperationException("refused"), FlushFailure.FailGroup);

        var ticket = writes.Add(1);
        Assert.False(ticket.Stored.IsCompleted); // the flush waits for the caller's turn

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ticket.Stored);
        Assert.Equal("refused", error.Message);
    });

    [Fact]
    public Task FailGroup_fails_that_group_only_and_the_next_is_stored() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailGroup);

        var failed = writes.Add(1);
        var inFlight = await store.NextAsync();
        var next = writes.Add(2);
        inFlight.Fail(new InvalidOperationException("commit lost"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => failed.Stored);
        (await store.NextAsync()).Succeed();
        await next.Stored;
        var after = writes.Add(3);
        (await store.NextAsync()).Succeed();
        await after.Stored;

        Assert.Equal([[1], [2], [3]], store.Calls.Select(c => c.Writes)); // nothing retried, nothing lost
        Assert.Throws<InvalidOperationException>(() => { _ = writes.WhenStoredAsync(2); });
    });

    [Fact]
    public Task FailAll_fails_the_group_and_everything_behind_it_and_takes_no_more_writes() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailAll);
        var stored = writes.Add(1);
        (await store.NextAsync()).Succeed();
        await stored.Stored;

        var failed = writes.Add(2);
        var inFlight = await store.NextAsync();
        var behind = writes.Add(3);
        var failure = new InvalidOperationException("commit lost");
        inFlight.Fail(failure);

        Assert.Same(failure, await Assert.ThrowsAsync<InvalidOperationException>(() => failed.Stored));
        Assert.Same(failure, await Assert.ThrowsAsync<InvalidOperationException>(() => behind.Stored));
        Assert.Same(failure, await Assert.ThrowsAsync<InvalidOperationException>(() => writes.Add(4).Stored));
        await Assert.ThrowsAsync<InvalidOperationException>(() => writes.WhenStoredAsync(3));
        await writes.WhenStoredAsync(1); // stored before the failure, and still so
        await writes.WhenIdleAsync();
        Assert.Equal(2, store.Calls.Count);
    });

    [Fact]
    public Task Retry_fails_the_attempt_then_stores_its_writes_ahead_of_later_ones() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var backOff = new TaskCompletionSource();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.Retry(() => backOff.Task));

        var first = writes.Add(1);
        var second = writes.Add(2);
        (await store.NextAsync()).Fail(new InvalidOperationException("connection lost"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => first.Stored); // a request need not hang on it
        var retried = writes.WhenStoredAsync(first.Sequence); // asked again: waits for the retry
        var meanwhile = writes.Add(3);
        await Task.Yield();
        Assert.Single(store.Calls); // backing off
        Assert.False(retried.IsCompleted);

        backOff.SetResult();
        (await store.NextAsync()).Succeed();
        await retried;
        await meanwhile.Stored;
        await writes.WhenStoredAsync(second.Sequence);

        Assert.Equal([1, 2, 3], store.Calls[1].Writes);
        Assert.Equal((1L, 3L), (store.Calls[1].First, store.Calls[1].Last));
    });

    [Fact]
    public Task Retry_merges_the_failed_writes_into_the_group_gathered_during_the_flush() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.Retry(() => Task.CompletedTask));

        writes.Add(1);
        var inFlight = await store.NextAsync();
        var gathered = writes.Add(2);
        inFlight.Fail(new InvalidOperationException("connection lost"));
        (await store.NextAsync()).Succeed();
        await gathered.Stored;

        Assert.Equal([[1], [1, 2]], store.Calls.Select(c => c.Writes));
        await writes.WhenStoredAsync(1);
    });

    [Fact]
    public Task Retry_stops_like_FailAll_on_a_final_failure() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.Retry(() => Task.CompletedTask, e => e is TimeoutException));

        var fenced = writes.Add(1);
        var inFlight = await store.NextAsync();
        var behind = writes.Add(2);
        inFlight.Fail(new TimeoutException("fenced"));

        await Assert.ThrowsAsync<TimeoutException>(() => fenced.Stored);
        await Assert.ThrowsAsync<TimeoutException>(() => behind.Stored);
        await Assert.ThrowsAsync<TimeoutException>(() => writes.WhenStoredAsync(1));
        await writes.WhenIdleAsync();
        Assert.Single(store.Calls);
    });

    [Fact]
    public Task A_failed_group_does_not_poison_the_next_one_under_retry() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.Retry(() => Task.CompletedTask));

        var first = writes.Add(1);
        (await store.NextAsync()).Fail(new InvalidOperationException("once"));
        (await store.NextAsync()).Succeed();
        await writes.WhenStoredAsync(first.Sequence);
        var next = writes.Add(2);
        (await store.NextAsync()).Succeed();
        await next.Stored;

        Assert.Equal([[1], [1], [2]], store.Calls.Select(c => c.Writes));
    });

    [Fact]
    public Task Stop_fails_the_flush_in_flight_and_what_is_queued_and_ignores_its_late_answer() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailAll);

        var inFlightWrite = writes.Add(1);
        var inFlight = await store.NextAsync();
        var queued = writes.Add(2);
        var fenced = new InvalidOperationException("fenced");
        writes.Stop(fenced);

        Assert.Same(fenced, await Assert.ThrowsAsync<InvalidOperationException>(() => inFlightWrite.Stored));
        Assert.Same(fenced, await Assert.ThrowsAsync<InvalidOperationException>(() => queued.Stored));
        inFlight.Succeed();
        await writes.WhenIdleAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => writes.WhenStoredAsync(2));
        Assert.Single(store.Calls);
    });

    [Fact]
    public async Task Writes_from_many_threads_are_each_flushed_once_in_order_one_flush_at_a_time()
    {
        var flushed = new ConcurrentQueue<(long First, long Last, int[] Writes)>();
        var running = 0;
        var overlaps = 0;
        var writes = new WriteCoalescer<int>(
            async group =>
            {
                if (Interlocked.Increment(ref running) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                flushed.Enqueue((group.FirstSequence, group.LastSequence, [.. group.Writes]));
                await Task.Yield();
                Interlocked.Decrement(ref running);
            },
            FlushFailure.FailGroup,
            maxGroup: 64,
            TaskScheduler.Default);

        var bySequence = new ConcurrentDictionary<long, int>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(thread => Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++)
            {
                var value = thread * 1000 + i;
                var ticket = writes.Add(value);
                bySequence[ticket.Sequence] = value;
                if (i % 50 == 0)
                {
                    await ticket.Stored;
                }
            }
        })));
        await writes.WhenIdleAsync();

        Assert.Equal(0, overlaps);
        var groups = flushed.ToList();
        Assert.All(groups, g => Assert.InRange(g.Writes.Length, 1, 64));
        Assert.Equal(Enumerable.Range(1, 4000).Select(i => (long)i), groups.SelectMany(g => Enumerable.Range((int)g.First, (int)(g.Last - g.First + 1)).Select(i => (long)i)));
        Assert.Equal(Enumerable.Range(1, 4000).Select(i => bySequence[i]), groups.SelectMany(g => g.Writes));
        Assert.True(groups.Count < 4000, "the writes were coalesced");
    }

    /// <summary>A flush that records each group and completes when the test says.</summary>
    [Fact]
    public Task A_group_holding_a_write_past_its_deadline_is_never_flushed_and_fails_with_what_is_queued_behind_it() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailAll);

        var first = writes.Add(1);
        var inFlight = await store.NextAsync();
        // Its deadline passes while the flush before it runs, as behind a paused store.
        var late = writes.AddBefore(2, Stopwatch.GetTimestamp() - 1);
        var sameGroup = writes.Add(3);
        inFlight.Succeed();
        await first.Stored;

        await Assert.ThrowsAsync<DeadlineExceededException>(() => late.Stored);
        await Assert.ThrowsAsync<DeadlineExceededException>(() => sameGroup.Stored);
        await writes.WhenIdleAsync();
        Assert.Single(store.Calls); // the late group never reached the store
        await Assert.ThrowsAsync<DeadlineExceededException>(() => writes.Add(4).Stored);
    });

    [Fact]
    public Task A_write_whose_deadline_is_ahead_is_flushed_as_usual() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailAll);

        var ticket = writes.AddBefore(1, Stopwatch.GetTimestamp() + Stopwatch.Frequency * 3600);
        (await store.NextAsync()).Succeed();
        await ticket.Stored;
        Assert.Equal([1], Assert.Single(store.Calls).Writes);
    });

    [Fact]
    public Task Under_fail_group_only_the_late_group_fails_and_the_next_is_flushed() => SerialContext.RunAsync(async () =>
    {
        var store = new GatedFlush();
        var writes = new WriteCoalescer<int>(store.FlushAsync, FlushFailure.FailGroup, maxGroup: 1);

        var first = writes.Add(1);
        var inFlight = await store.NextAsync();
        var late = writes.AddBefore(2, Stopwatch.GetTimestamp() - 1);
        var next = writes.Add(3);
        inFlight.Succeed();
        await first.Stored;
        await Assert.ThrowsAsync<DeadlineExceededException>(() => late.Stored);
        (await store.NextAsync()).Succeed();
        await next.Stored;
        Assert.Equal([[1], [3]], store.Calls.Select(c => c.Writes));
    });

    private sealed class GatedFlush
    {
        private readonly Queue<Call> _pending = new();
        private TaskCompletionSource _arrived = new();

        public List<(int[] Writes, long First, long Last)> Calls { get; } = [];

        public Task FlushAsync(WriteGroup<int> group)
        {
            Calls.Add(([.. group.Writes], group.FirstSequence, group.LastSequence));
            var call = new Call();
            _pending.Enqueue(call);
            _arrived.TrySetResult();
            return call.Outcome.Task;
        }

        /// <summary>The next flush call, once the coalescer made it.</summary>
        public async Task<Call> NextAsync()
        {
            Call? call;
            while (!_pending.TryDequeue(out call))
            {
                await _arrived.Task;
                _arrived = new TaskCompletionSource();
            }

            return call;
        }

        public sealed class Call
        {
            public TaskCompletionSource Outcome { get; } = new();

            public void Succeed() => Outcome.SetResult();

            public void Fail(Exception failure) => Outcome.SetException(failure);
        }
    }
}
