using System.Collections.Concurrent;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// Dedicated threads, one per core, for CPU-bound task bodies. On the shared thread pool, long
/// computations would hold the threads Orleans runs grains and messaging on (the pool grows only
/// slowly); here they queue for their own threads and leave the pool to the silo.
/// </summary>
public sealed class CpuScheduler : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _queue = [];
    private readonly int _threads;

    public CpuScheduler(int threads)
    {
        _threads = threads;
        for (var i = 0; i < threads; i++)
        {
            new Thread(Work) { IsBackground = true, Name = $"oc-cpu-{i}" }.Start();
        }
    }

    public override int MaximumConcurrencyLevel => _threads;

    /// <summary>Runs <paramref name="body"/> on one of the dedicated threads; awaits inside it continue on the thread pool.</summary>
    public Task<T> RunAsync<T>(Func<Task<T>> body, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(body, cancellationToken, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    public void Dispose() => _queue.CompleteAdding();

    protected override void QueueTask(Task task) => _queue.Add(task);

    // Never run a body on the caller's thread: that could be a grain's or the pool's.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    private void Work()
    {
        foreach (var task in _queue.GetConsumingEnumerable())
        {
            TryExecuteTask(task);
        }
    }
}
