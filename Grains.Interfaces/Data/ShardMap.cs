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
    /// The grain key of one shard of one table incarnation. Whether the table is encrypted at rest
    /// is part of the key: it is fixed for the incarnation, and the shard needs it before it loads.
    /// </summary>
    public static string ShardKey(string tenant, Guid tableId, int shard, bool encrypted = false) =>
        TenantKey.For(tenant, $"{tableId:N}/{shard}{(encrypted ? EncryptedSuffix : "")}");

    /// <summary>The grain key of one shard of <paramref name="table"/>.</summary>
    public static string ShardKey(string tenant, TableInfo table, int shard) => ShardKey(tenant, table.Id, shard, table.Encrypted);

    /// <summary>Reads a key made by <see cref="ShardKey(string, Guid, int, bool)"/>.</summary>
    public static (string Tenant, Guid TableId, int Shard, bool Encrypted) Parse(string shardKey)
    {
        var (tenant, rest) = TenantKey.Parse(shardKey);
        var encrypted = rest.EndsWith(EncryptedSuffix, StringComparison.Ordinal);
        if (encrypted)
        {
            rest = rest[..^EncryptedSuffix.Length];
        }

        var slash = rest.IndexOf('/');
        return (tenant, Guid.ParseExact(rest[..slash], "N"), int.Parse(rest[(slash + 1)..]), encrypted);
    }
}
