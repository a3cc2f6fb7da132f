namespace OrleansCompute.Jobs;

/// <summary>
/// The task runner of one silo, keyed by that silo's address, so a job can hand a task to a
/// chosen silo. Task bodies never run on the grain scheduler (CPU-bound kinds run on dedicated
/// threads, one per core; the others on the thread pool); the worker reports each run back to its
/// job through <see cref="IJobGrain.ReportAsync"/>.
/// </summary>
[Alias("oc.ITaskWorkerGrain")]
public interface ITaskWorkerGrain : IGrainWithStringKey
{
    /// <summary>Queues a task run; it starts when a slot is free, higher priority first.</summary>
    [Alias("Start")]
    Task StartAsync(TaskAssignment assignment, CancellationToken cancellationToken = default);

    /// <summary>Stops the runs of a job (one task, or all when <paramref name="index"/> is null).</summary>
    [Alias("Cancel"), AlwaysInterleave]
    Task CancelAsync(string jobKey, int? index, CancellationToken cancellationToken = default);
}

/// <summary>One run of one task, as handed to a worker. Inputs are JSON text.</summary>
[GenerateSerializer, Immutable, Alias("oc.TaskAssignment")]
public sealed record TaskAssignment(
    string JobKey,
    string Kind,
    int Index,
    long DispatchId,
    int Attempt,
    string TaskInput,
    string JobInput,
    int TimeoutSeconds,
    int Priority);
