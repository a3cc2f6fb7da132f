using System.Text;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Data;

/// <summary>Which shard holds a key, and the grain key of a shard. The Api and the grains must agree, so both use this.</summary>
public static class ShardMap
{
    /// <summary>The shard of <paramref name="key"/>: FNV-1a over its UTF-8 bytes, stable across processes and versions.</summary>
    public static int ShardOf(string key, int shards)
    {
        const ulong offset = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetByteCount(key) <= buffer.Length
            ? buffer[..Encoding.UTF8.GetBytes(key, buffer)]
            : Encoding.UTF8.GetBytes(key);
        var hash = offset;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * prime;
        }

        return (int)(hash % (ulong)shards);
    }

    private const string EncryptedSuffix = "/e";

    /// <summary>
    /// The grain key of one shard of one table incarnation. What the shard needs before it loads is
    /// part of the key, fixed for the incarnation: whether the table is encrypted at rest, and how
    /// many shards it has (placement spreads each table's shards evenly, so it must know).
    /// </summary>
    public static string ShardKey(string tenant, Guid tableId, int shard, int shards, bool encrypted = false) =>
        TenantKey.For(tenant, $"{tableId:N}/{shard}/{shards}{(encrypted ? EncryptedSuffix : "")}");

    /// <summary>The grain key of one shard of <paramref name="table"/>.</summary>
    public static string ShardKey(string tenant, TableInfo table, int shard) => ShardKey(tenant, table.Id, shard, table.Shards, table.Encrypted);

    /// <summary>
    /// The grain key of the shard that holds <paramref name="key"/> now: in the current layout,
    /// or, while the table reshards and the key's current shard has moved, in the new one.
    /// </summary>
    public static string ShardKeyFor(string tenant, TableInfo table, string key)
    {
        var shard = ShardOf(key, table.Shards);
        return table.Resharding is { } resharding && resharding.HasMoved(shard)
            ? ShardKey(tenant, resharding.ToId, ShardOf(key, resharding.To), resharding.To, table.Encrypted)
            : ShardKey(tenant, table.Id, shard, table.Shards, table.Encrypted);
    }

    /// <summary>
    /// Every shard a scan must visit now: the current shards that have not moved, and the new
    /// shards that any moved one feeds. Each key lives in exactly one of them.
    /// </summary>
    public static IReadOnlyList<string> ShardKeysOf(string tenant, TableInfo table)
    {
        if (table.Resharding is not { } resharding)
        {
            return [.. Enumerable.Range(0, table.Shards).Select(shard => ShardKey(tenant, table, shard))];
        }

        var current = Enumerable.Range(0, table.Shards).Where(shard => !resharding.HasMoved(shard))
            .Select(shard => ShardKey(tenant, table, shard));
        var fed = Enumerable.Range(0, resharding.To).Where(target => Sources(target, resharding.To, table.Shards).Any(resharding.HasMoved))
            .Select(target => ShardKey(tenant, resharding.ToId, target, resharding.To, table.Encrypted));
        return [.. current.Concat(fed)];
    }

    /// <summary>
    /// The shards of a <paramref name="from"/>-shard layout whose keys land in shard
    /// <paramref name="target"/> of a <paramref name="to"/>-shard layout, when one count divides the other.
    /// </summary>
    public static IEnumerable<int> Sources(int target, int to, int from) =>
        to >= from ? [target % from] : Enumerable.Range(0, from / to).Select(i => target + i * to);

    /// <summary>Reads a key made by <see cref="ShardKey(string, Guid, int, int, bool)"/>.</summary>
    public static ShardAddress Parse(string shardKey)
    {
        var (tenant, rest) = TenantKey.Parse(shardKey);
        var encrypted = rest.EndsWith(EncryptedSuffix, StringComparison.Ordinal);
        if (encrypted)
        {
            rest = rest[..^EncryptedSuffix.Length];
        }

        var parts = rest.Split('/');
        return new ShardAddress(tenant, Guid.ParseExact(parts[0], "N"), int.Parse(parts[1]), int.Parse(parts[2]), encrypted);
    }
}

/// <summary>One shard of one table incarnation, as its grain key names it.</summary>
public readonly record struct ShardAddress(string Tenant, Guid TableId, int Shard, int Shards, bool Encrypted);
