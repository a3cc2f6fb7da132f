using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansCompute.Grains.Jobs.Kinds;

/// <summary>Counts the primes in [from, to]: one task per chunk, each a segmented sieve (CPU-bound).</summary>
public sealed class PrimesKind : ITaskKind
{
    public const long MaxTo = 1_000_000_000_000;
    private const int SegmentSize = 1 << 18;

    public string Name => "primes";

    public bool CpuBound => true;

    public string Description => "Counts the primes in [from, to], split into chunks of chunkSize numbers. Result: {\"count\"}.";

    public InputSchema Schema { get; } = new(
        new SchemaField("from", FieldType.Integer, "First number of the range.", Required: true, Minimum: 0, Maximum: MaxTo),
        new SchemaField("to", FieldType.Integer, "Last number of the range (inclusive).", Required: true, Minimum: 0, Maximum: MaxTo),
        new SchemaField("chunkSize", FieldType.Integer, "Numbers per task.", Minimum: 1000, Maximum: 1_000_000_000, Default: 250_000));

    public ValueTask<IReadOnlyList<PlannedTask>> PlanAsync(JsonElement input, PlanContext context, CancellationToken cancellationToken)
    {
        var from = input.Int64("from");
        var to = input.Int64("to");
        var chunk = input.Int64("chunkSize", 250_000);
        if (to < from)
        {
            throw new InvalidInputException("input.to", "must be at least input.from.");
        }

        var tasks = new List<PlannedTask>();
        for (var start = from; start <= to; start += chunk)
        {
            var end = Math.Min(to, start + chunk - 1);
            tasks.Add(new PlannedTask(new JsonObject { ["from"] = start, ["to"] = end }));
            if (tasks.Count > 1_000_000)
            {
                break; // far past any task limit; the job is refused with the count it would have
            }
        }

        return ValueTask.FromResult<IReadOnlyList<PlannedTask>>(tasks);
    }

    public Task<JsonNode?> RunAsync(TaskRun run, CancellationToken cancellationToken) =>
        Task.FromResult<JsonNode?>(new JsonObject { ["count"] = Count(run.Input.Int64("from"), run.Input.Int64("to"), cancellationToken) });

    public JsonNode? Reduce(JsonElement input, IReadOnlyList<JsonNode?> results) =>
        new JsonObject { ["count"] = results.Sum(r => r!["count"]!.GetValue<long>()) };

    /// <summary>The number of primes in [from, to], by a sieve over segments that fit in cache.</summary>
    public static long Count(long from, long to, CancellationToken cancellationToken)
    {
        from = Math.Max(from, 2);
        if (to < from)
        {
            return 0;
        }

        var root = (long)Math.Sqrt(to);
        while (root * root > to)
        {
            root--;
        }

        while ((root + 1) * (root + 1) <= to)
        {
            root++;
        }

        var basePrimes = SmallPrimes((int)root);
        // Pooled: a fresh 256 KiB array per task would land on the large object heap every time.
        var composite = ArrayPool<bool>.Shared.Rent(SegmentSize);
        try
        {
            return CountSegments(from, to, basePrimes, composite, cancellationToken);
        }
        finally
        {
            ArrayPool<bool>.Shared.Return(composite);
        }
    }

    // Optimized at once: a silo that has just started would otherwise sieve its first jobs with
    // unoptimized (tier-0) code while tiered compilation catches up.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long CountSegments(long from, long to, List<int> basePrimes, bool[] composite, CancellationToken cancellationToken)
    {
        long count = 0;
        for (var start = from; start <= to; start += SegmentSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var end = Math.Min(to, start + SegmentSize - 1);
            var length = (int)(end - start + 1);
            Array.Clear(composite, 0, length);
            foreach (var p in basePrimes)
            {
                var square = (long)p * p;
                if (square > end)
                {
                    break;
                }

                var first = Math.Max(square, (start + p - 1) / p * p);
                for (var multiple = first; multiple <= end; multiple += p)
                {
                    composite[multiple - start] = true;
                }
            }

            for (var i = 0; i < length; i++)
            {
                if (!composite[i])
                {
                    count++;
                }
            }
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static List<int> SmallPrimes(int limit)
    {
        var primes = new List<int>();
        if (limit < 2)
        {
            return primes;
        }

        var composite = new bool[limit + 1];
        for (var i = 2; i <= limit; i++)
        {
            if (composite[i])
            {
                continue;
            }

            primes.Add(i);
            for (var multiple = (long)i * i; multiple <= limit; multiple += i)
            {
                composite[multiple] = true;
            }
        }

        return primes;
    }
}
