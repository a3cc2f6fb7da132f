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
