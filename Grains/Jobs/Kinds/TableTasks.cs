using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Jobs.Kinds;

/// <summary>
/// The map side of data-local kinds: one task per shard of a table, run on the silo that hosts
/// the shard, reading the shard's live values page by page through local grain calls.
/// </summary>
public static class TableTasks
{
    private const int PageSize = 1000;

    /// <summary>One task per shard of the input's table; the task input carries the shard's grain key.</summary>
    public static async ValueTask<IReadOnlyList<PlannedTask>> PerShardAsync(JsonElement input, PlanContext context, CancellationToken cancellationToken)
    {
        var name = input.String("table")!;
        if (!TableNames.IsValid(name))
        {
            throw new InvalidInputException("input.table", $"'{name}' is not a valid table name: {TableNames.Rule}.");
        }

        var table = await context.Grains.GetGrain<ITableGrain>(TenantKey.For(context.Tenant, name)).DescribeAsync(cancellationToken)
            ?? throw new InvalidInputException("input.table", $"there is no table '{name}'.");
        return Enumerable.Range(0, table.Shards)
            .Select(shard => ShardMap.ShardKey(context.Tenant, table, shard))
            .Select(key => new PlannedTask(new JsonObject { ["shard"] = key }, key))
            .ToList();
    }

    /// <summary>Every live value of the task's shard, parsed as JSON.</summary>
    public static async IAsyncEnumerable<JsonElement> ValuesAsync(TaskRun run, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var shard = run.Grains.GetGrain<IShardGrain>(run.Input.String("shard")!);
        string? after = null;
        while (true)
        {
            var page = await shard.ScanAsync("", after, PageSize, cancellationToken);
            if (page.TableNotFound)
            {
                throw new InvalidOperationException("the table was dropped while the job ran");
            }

            foreach (var item in page.Items)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var document = JsonDocument.Parse(item.Value);
                yield return document.RootElement.Clone();
            }

            if (!page.More || page.Items.Count == 0)
            {
                yield break;
            }

            after = page.Items[^1].Key;
        }
    }
}
