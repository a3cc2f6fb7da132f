using System.Collections.Concurrent;
using OrleansCompute.Grains.Jobs;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;

namespace OrleansCompute.Tests.Unit;

/// <summary>
/// <see cref="JobWriter"/> on a single-threaded context, as on a grain's scheduler: coalescing,
/// which version each write carries, a failed write tried again, and fencing.
/// </summary>
public class JobWriterTests
{
    private static readonly JobRecord Job = new("t", "j", "sleep", JobStatus.Running, "{}", "[]", null, "hash", null, null, DateTimeOffset.UnixEpoch, null, null, 5);

    [Fact]
    public Task Changes_of_one_turn_go_out_in_one_write_that_makes_their_version_durable() => SerialContext.RunAsync(async () =>
    {
        var store = new ScriptedStore();
        var durable = new List<long>();
        var writer = store.Writer(durable.Add);

        writer.ChangeTask(1);
        writer.ChangeTask(2);
        writer.ChangeHeader(1);
        await writer.WhenDurableAsync(1);

        var save = Assert.Single(store.Saves);
        Assert.Equal(6, save.Header!.Version); // the store version after the loaded one
        Assert.Equal([1, 2], save.Rows.Order());
        Assert.Equal([1L], durable);
        Assert.Equal(1, writer.DurableVersion);
        Assert.True(writer.WhenDurableAsync(1).IsCompletedSuccessfully);
    });

    [Fact]
    public Task Changes_made_while_a_write_is_in_flight_go_out_together_in_the_next_one() => SerialContext.RunAsync(async () =>
    {
        var store = new ScriptedStore();
        var hold = store.Hold();
        var writer = store.Writer();

        writer.ChangeHeader(1);
        var first = writer.WhenDurableAsync(1);
        await store.Started(1);
        writer.ChangeHeader(2);
        writer.ChangeTask(3);
        writer.ChangeHeader(3);
        var later = writer.WhenDurableAsync(3);
        Assert.False(later.IsCompleted);

        hold.SetResult();
        await first;
        await later;

        Assert.Equal(2, store.Saves.Count);
        Assert.Equal(7, store.Saves[1].Header!.Version);
        Assert.Equal([3], store.Saves[1].Rows);
        Assert.Equal(3, writer.DurableVersion);
    });

    [Fact]
    public Task A_failed_write_fails_its_waiters_and_a_retry_makes_the_same_version_durable() => SerialContext.RunAsync(async () =>
    {
        var store = new ScriptedStore();
        store.FailNext(new InvalidOperationException("connection lost"));
        var retry = new TaskCompletionSource();
        var durable = new List<long>();
        var failures = new List<Exception>();
        var writer = store.Writer(durable.Add, failures.Add, _ => retry.Task);

        writer.ChangeTask(0);
        writer.ChangeHeader(1);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.WhenDurableAsync(1));

        Assert.Equal("connection lost", error.Message);
        Assert.Single(failures);
        Assert.Empty(durable);
        Assert.Equal(0, writer.DurableVersion);
        var again = writer.WhenDurableAsync(1); // e.g. a repeated cancel: waits for the retry
        Assert.False(again.IsCompleted);

        retry.SetResult();
        await again;

        Assert.Equal([1L], durable);
        Assert.Equal(2, store.Saves.Count);
        Assert.Equal(6, store.Saves[1].Header!.Version); // the same store version: the failed write stored nothing
        Assert.Equal([0], store.Saves[1].Rows); // and the same changes
    });

    [Fact]
    public Task A_store_disposed_at_shutdown_stops_the_writer_instead_of_retrying_forever() => SerialContext.RunAsync(async () =>
    {
        var store = new ScriptedStore();
        store.FailNext(new ObjectDisposedException("NpgsqlDataSource"));
        var retries = 0;
        var writer = store.Writer(delay: _ => { retries++; return Task.CompletedTask; });

        writer.ChangeHeader(1);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => writer.WhenDurableAsync(1));
        writer.ChangeHeader(2);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => writer.WhenDurableAsync(2));
        Assert.Equal(0, retries);
        Assert.Single(store.Saves);
    });

    [Fact]
    public Task A_fenced_write_stops_the_writer_and_fails_every_waiter() => SerialContext.RunAsync(async () =>
    {
        var store = new ScriptedStore();
        store.FailNext(new JobFencedException("another activation"));
        var fenced = 0;
        var writer = store.Writer(fenced: _ => fenced++);

        writer.ChangeHeader(1);
        await Assert.ThrowsAsync<JobFencedException>(() => writer.WhenDurableAsync(1));
        writer.ChangeTask(0);
        writer.ChangeHeader(2);

        Assert.True(writer.IsFenced);
        Assert.Equal(1, fenced);
        await Assert.ThrowsAsync<JobFencedException>(() => writer.WhenDurableAsync(2));
        Assert.Single(store.Saves);
    });

    /// <summary>Records every save; can hold the next one or make it fail.</summary>
    private sealed class ScriptedStore
    {
        private readonly Queue<Exception> _failures = new();
        private TaskCompletionSource? _hold;
        private TaskCompletionSource _started = new();

        public List<(JobRecord? Header, List<int> Rows)> Saves { get; } = [];

        public void FailNext(Exception failure) => _failures.Enqueue(failure);

        public TaskCompletionSource Hold() => _hold = new TaskCompletionSource();

        public async Task Started(int count)
        {
            while (Saves.Count < count)
            {
                await _started.Task;
            }
        }

        public JobWriter Writer(Action<long>? durable = null, Action<Exception>? failed = null, Func<TimeSpan, Task>? delay = null, Action<JobFencedException>? fenced = null) =>
            new(version => Job with { Version = version }, index => new TaskRecord(index, TaskState.Pending, 1, null, null, null, null, null), SaveAsync,
                delay ?? (_ => Task.CompletedTask), Job.Version)
            {
                HeaderDurable = durable,
                WriteFailed = failed,
                Fenced = fenced,
            };

        private async Task SaveAsync(JobRecord? header, IReadOnlyCollection<TaskRecord> rows)
        {
            Saves.Add((header, rows.Select(r => r.Index).ToList()));
            var started = _started;
            _started = new TaskCompletionSource();
            started.SetResult();
            if (_hold is { } hold)
            {
                _hold = null;
                await hold.Task;
            }

            if (_failures.TryDequeue(out var failure))
            {
                throw failure;
            }
        }
    }
}

/// <summary>A single-threaded synchronization context, like a grain's scheduler: one piece of work at a time.</summary>
public sealed class SerialContext : SynchronizationContext
{
    private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];

    public override void Post(SendOrPostCallback d, object? state)
    {
        try
        {
            _queue.Add((d, state));
        }
        catch (InvalidOperationException)
        {
            // The test is over; work it left behind (e.g. a retry timer) is dropped.
        }
    }

    /// <summary>Runs <paramref name="body"/> and everything it posts on one thread; completes as the body does.</summary>
    public static Task RunAsync(Func<Task> body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            var context = new SerialContext();
            SetSynchronizationContext(context);
            var task = body();
            task.ContinueWith(_ => context._queue.CompleteAdding(), TaskScheduler.Default);
            foreach (var (callback, state) in context._queue.GetConsumingEnumerable())
            {
                callback(state);
            }

            if (task.Exception is { } failure)
            {
                done.SetException(failure.InnerExceptions);
            }
            else
            {
                done.SetResult();
            }
        })
        { IsBackground = true };
        thread.Start();
        return done.Task;
    }
}
