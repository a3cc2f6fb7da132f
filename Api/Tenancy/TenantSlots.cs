using System.Collections.Concurrent;

namespace OrleansCompute.Api.Tenancy;

/// <summary>
/// Counts what each tenant holds open through this Api process (waiting acquires, watch streams),
/// so one tenant cannot hold an unbounded number of requests open. A holder keeps its slot from
/// the moment it is admitted until it ends, so the count is exact for this process. Each kind of
/// slot is a subclass naming its own limit, so that each has its own count.
/// </summary>
public abstract class TenantSlots(Func<int> limit)
{
    private readonly ConcurrentDictionary<string, int> _held = new(StringComparer.Ordinal);

    public int Limit => limit();

    /// <summary>Takes a slot for <paramref name="tenant"/>; null when it holds <see cref="Limit"/> already. Dispose to give it back.</summary>
    public IDisposable? TryTake(string tenant)
    {
        while (true)
        {
            var current = _held.GetOrAdd(tenant, 0);
            if (current >= Limit)
            {
                return null;
            }

            if (_held.TryUpdate(tenant, current + 1, current))
            {
                return new Slot(this, tenant);
            }
        }
    }

    private void Give(string tenant) => _held.AddOrUpdate(tenant, 0, (_, n) => n - 1);

    private sealed class Slot(TenantSlots owner, string tenant) : IDisposable
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
