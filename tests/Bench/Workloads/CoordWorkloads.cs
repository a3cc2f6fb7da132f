using System.Collections.Concurrent;
using System.Text.Json;

namespace OrleansCompute.Bench.Workloads;

/// <summary>
/// What the coordination workloads share between the Api and etcd, so both do the same work:
/// <see cref="Names"/> lock names, each with a lease of its own granted before the run.
/// </summary>
public static class CoordWorkloads
{
    public const string LockPair = "lock-pair";
    public const string LeaseKeepAlive = "lease-keepalive";

    /// <summary>SPEC §6: uncontended acquire + release pairs over 64 names.</summary>
    public const int Names = 64;

    /// <summary>Long enough that no lease of the run ends while it runs, without keepalives.</summary>
    public const int LeaseTtlSeconds = 600;

    /// <summary>Reads one string or number property of a JSON answer (etcd sends 64-bit numbers as strings).</summary>
    public static string ReadProperty(byte[] json, string property)
    {
        using var document = JsonDocument.Parse(json);
        var element = document.RootElement.GetProperty(property);
        return element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText();
    }
}

/// <summary>
/// The (name, lease) pairs of a lock workload, handed to one load loop at a time: with no more loops
/// than names, no two pairs in flight ever contend, which is what "uncontended" means here. Loops
/// beyond the number of names share a random pair and so do contend; the report says the concurrency.
/// </summary>
public sealed class LockSlots(IReadOnlyList<(string Name, string Lease)> slots)
{
    private readonly ConcurrentQueue<int> _free = new(Enumerable.Range(0, slots.Count));

    public IReadOnlyList<(string Name, string Lease)> All => slots;

    public async ValueTask<int> WithSlotAsync(Random random, Func<string, string, ValueTask<int>> pair)
    {
        var owned = _free.TryDequeue(out var index);
        if (!owned)
        {
            index = random.Next(slots.Count);
        }

        try
        {
            return await pair(slots[index].Name, slots[index].Lease);
        }
        finally
        {
            if (owned)
            {
                _free.Enqueue(index);
            }
        }
    }
}
