using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace OrleansCompute.Api.Coordination;

/// <summary>
/// Counts the acquires each tenant has waiting through this Api process, so one tenant cannot hold
/// an unbounded number of requests (and lock-line entries) open. A waiter holds a slot from the
/// moment it asks until its answer, so the count is exact for this process.
/// </summary>
public sealed class WaiterSlots(IOptions<CoordinationLimits> limits)
{
    private readonly ConcurrentDictionary<string, int> _waiting = new(StringComparer.Ordinal);

    public int Limit => limits.Value.MaxWaitersPerTenant;

    /// <summary>Takes a slot for <paramref name="tenant"/>; null when it has <see cref="Limit"/> already. Dispose to give it back.</summary>
    public IDisposable? TryTake(string tenant)
    {
        while (true)
        {
            var current = _waiting.GetOrAdd(tenant, 0);
            if (current >= Limit)
            {
                return null;
            }

            if (_waiting.TryUpdate(tenant, current + 1, current))
            {
                return new Slot(this, tenant);
            }
        }
    }

    private void Give(string tenant) => _waiting.AddOrUpdate(tenant, 0, (_, n) => n - 1);

    private sealed class Slot(WaiterSlots owner, string tenant) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Give(tenant);
            }
        }
    }
}
