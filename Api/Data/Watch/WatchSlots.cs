using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace OrleansCompute.Api.Data.Watch;

/// <summary>
/// Counts the watch streams each tenant holds open through this Api process, so one tenant cannot
/// hold an unbounded number of connections (and shard subscriptions). A stream holds its slot
/// from the moment it is admitted until it ends.
/// </summary>
public sealed class WatchSlots(IOptions<WatchLimits> limits)
{
    private readonly ConcurrentDictionary<string, int> _open = new(StringComparer.Ordinal);

    public int Limit => limits.Value.MaxStreamsPerTenant;

    /// <summary>Takes a slot for <paramref name="tenant"/>; null when it holds <see cref="Limit"/> already. Dispose to give it back.</summary>
    public IDisposable? TryTake(string tenant)
    {
        while (true)
        {
            var current = _open.GetOrAdd(tenant, 0);
            if (current >= Limit)
            {
                return null;
            }

            if (_open.TryUpdate(tenant, current + 1, current))
            {
                return new Slot(this, tenant);
            }
        }
    }

    private void Give(string tenant) => _open.AddOrUpdate(tenant, 0, (_, n) => n - 1);

    private sealed class Slot(WatchSlots owner, string tenant) : IDisposable
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
