using System.Text;

namespace OrleansCompute.Grains.Data.Placement;

/// <summary>
/// Where each shard of a table belongs, as a pure function of the table and the set of silos, so
/// that every silo computes the same answer from the same membership and none ever fights another
/// over a shard.
///
/// Each silo gets a quota: ⌊shards / n⌋, and one more for the first (shards mod n) silos in the
/// table's own ranking of them, so every silo hosts an even share of every table, within one, and
/// tables with a remainder spread it over different silos. Shards then pick, in order, the silo
/// they rank highest (rendezvous hashing) that still has room. A silo that joins or leaves changes
/// the rankings of no other silo, so most shards stay where they are: mostly those the new silo's
/// quota takes, or those of the silo that left, move.
/// </summary>
public static class ShardLayout
{
    /// <summary>The index into <paramref name="silos"/> of the silo that should host each shard.</summary>
    /// <param name="silos">Silo identities (their endpoints); the order they come in does not matter.</param>
    public static int[] Assign(Guid tableId, int shards, IReadOnlyList<string> silos)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        ArgumentOutOfRangeException.ThrowIfZero(silos.Count);
        var table = Hash(Seed, tableId.ToByteArray());
        var quota = new int[silos.Count];
        var byTableRank = Enumerable.Range(0, silos.Count)
            .OrderByDescending(s => Score(table, -1, silos[s]))
            .ThenBy(s => silos[s], StringComparer.Ordinal)
            .ToArray();
        for (var rank = 0; rank < byTableRank.Length; rank++)
        {
            quota[byTableRank[rank]] = shards / silos.Count + (rank < shards % silos.Count ? 1 : 0);
        }

        var owners = new int[shards];
        for (var shard = 0; shard < shards; shard++)
        {
            var best = -1;
            var bestScore = 0UL;
            for (var s = 0; s < silos.Count; s++)
            {
                if (quota[s] == 0)
                {
                    continue;
                }

                var score = Score(table, shard, silos[s]);
                if (best < 0 || score > bestScore || (score == bestScore && string.CompareOrdinal(silos[s], silos[best]) < 0))
                {
                    best = s;
                    bestScore = score;
                }
            }

            owners[shard] = best;
            quota[best]--;
        }

        return owners;
    }

    /// <summary>The silo of <paramref name="silos"/> that should host one shard.</summary>
    public static int Owner(Guid tableId, int shard, int shards, IReadOnlyList<string> silos) => Assign(tableId, shards, silos)[shard];

    private const ulong Seed = 14695981039346656037UL;

    private static ulong Score(ulong table, int shard, string silo)
    {
        Span<byte> shardBytes = stackalloc byte[4];
        BitConverter.TryWriteBytes(shardBytes, shard);
        return Mix(Hash(Hash(table, shardBytes), Encoding.UTF8.GetBytes(silo)));
    }

    // FNV-1a: stable across processes and versions, unlike string.GetHashCode.
    private static ulong Hash(ulong hash, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    // FNV's low bits are weak for ranking; a 64-bit finalizer spreads every input bit.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }
}
