using Microsoft.Extensions.DependencyInjection;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs;

/// <summary>The task kinds registered with DI, by name.</summary>
public sealed class TaskKinds
{
    private readonly Dictionary<string, ITaskKind> _byName;

    public TaskKinds(IEnumerable<ITaskKind> kinds)
    {
        _byName = new Dictionary<string, ITaskKind>(StringComparer.Ordinal);
        foreach (var kind in kinds)
        {
            if (!_byName.TryAdd(kind.Name, kind))
            {
                throw new InvalidOperationException($"Two task kinds are named '{kind.Name}'.");
            }
        }
    }

    public IEnumerable<ITaskKind> All => _byName.Values.OrderBy(k => k.Name, StringComparer.Ordinal);

    public ITaskKind? Find(string name) => _byName.GetValueOrDefault(name);

    public ITaskKind Get(string name) => Find(name) ?? throw new InvalidOperationException($"Unknown task kind '{name}'.");

    public IReadOnlyList<TaskKindInfo> Describe() =>
        All.Select(k => new TaskKindInfo(k.Name, k.Description, k.Schema.ToJsonSchema().ToJsonString())).ToList();
}

public static class TaskKindRegistration
{
    /// <summary>Makes a task kind available to jobs on this silo (every silo must register the same kinds).</summary>
    public static IServiceCollection AddTaskKind<TKind>(this IServiceCollection services)
        where TKind : class, ITaskKind =>
        services.AddSingleton<ITaskKind, TKind>();

    /// <summary>The job engine and the built-in kinds.</summary>
    public static IServiceCollection AddJobs(this IServiceCollection services)
    {
        services.AddSingleton<TaskKinds>();
        services.AddSingleton<TaskRunner>();
        services.AddTaskKind<PrimesKind>();
        services.AddTaskKind<SleepKind>();
        services.AddTaskKind<WordCountKind>();
        services.AddTaskKind<AggregateKind>();
        return services;
    }
}
