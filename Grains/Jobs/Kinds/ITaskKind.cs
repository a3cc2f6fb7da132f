using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansCompute.Grains.Jobs.Kinds;

/// <summary>
/// A kind of job: how its input splits into tasks, how one task runs, and how task results
/// combine. Adding a kind is one class implementing this, registered with
/// <c>services.AddTaskKind&lt;T&gt;()</c> on the silo. Implementations are singletons and must be
/// thread-safe: tasks of many jobs run at once.
/// </summary>
public interface ITaskKind
{
    /// <summary>The name jobs use in <c>"kind"</c>: lowercase letters, digits and '-'.</summary>
    string Name { get; }

    string Description { get; }

    /// <summary>
    /// True when a task computes without waiting (e.g. <c>primes</c>): a silo then runs at most
    /// one such task per core at once, so CPU-bound tasks never fight over the cores, while
    /// tasks that wait (I/O, sleeps) use all of the silo's slots.
    /// </summary>
    bool CpuBound => false;

    /// <summary>The input's schema: published at /v1/task-kinds, and checked before <see cref="PlanAsync"/> sees the input.</summary>
    InputSchema Schema { get; }

    /// <summary>
    /// Splits a (schema-valid) input into tasks. Throw <see cref="InvalidInputException"/> for
    /// problems the schema cannot express, e.g. <c>to</c> below <c>from</c> or a missing table.
    /// </summary>
    ValueTask<IReadOnlyList<PlannedTask>> PlanAsync(JsonElement input, PlanContext context, CancellationToken cancellationToken);

    /// <summary>
    /// Runs one task, off the grain scheduler: on the thread pool, or on a core of its own when
    /// <see cref="CpuBound"/>. Observe <paramref name="cancellationToken"/>: it fires on
    /// timeout and on cancel. May run more than once for the same task (retries, a silo that died),
    /// so it must not have effects that add up; its result is recorded once.
    /// </summary>
    Task<JsonNode?> RunAsync(TaskRun run, CancellationToken cancellationToken);

    /// <summary>Combines the results of all tasks, in task order, into the job's result.</summary>
    JsonNode? Reduce(JsonElement input, IReadOnlyList<JsonNode?> results);
}

/// <summary>
/// One task of a plan. <see cref="Shard"/>, when set, is the key of the shard grain whose data the
/// task reads: the task then runs on the silo that hosts that shard. <see cref="TransactionalShard"/>,
/// when set, is the key of the index grain of a transactional table's shard the task reads: the task
/// then runs on the silo that hosts that index.
/// </summary>
public sealed record PlannedTask(JsonNode? Input, string? Shard = null, string? TransactionalShard = null);

/// <summary>What planning may look at: the tenant (to find its tables) and the cluster.</summary>
public sealed record PlanContext(string Tenant, IGrainFactory Grains);

/// <summary>One run of one task: its own input (from the plan) and the job's input.</summary>
public sealed record TaskRun(string Tenant, int Index, int Attempt, JsonElement Input, JsonElement JobInput, IGrainFactory Grains);

/// <summary>The input is wrong in a way the schema cannot say; <see cref="Field"/> names where, e.g. "input.to".</summary>
public sealed class InvalidInputException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
