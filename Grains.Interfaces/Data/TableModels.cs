namespace OrleansCompute.Data;

/// <summary>What a caller asks for when creating a table. <see cref="Encrypted"/> stores its values encrypted at rest.</summary>
[GenerateSerializer, Immutable, Alias("oc.TableSpec")]
public sealed record TableSpec(bool Transactional, int Shards, bool Encrypted = false)
{
    /// <summary>Shards a table gets when the request does not say.</summary>
    public const int DefaultShards = 16;

    /// <summary>Upper bound on shards per table: each shard is a grain, and scans visit all of them.</summary>
    public const int MaxShards = 256;
}

/// <summary>
/// A table as it exists in the cluster. <see cref="Id"/> names this incarnation of the table: a
/// table dropped and created again under the same name gets a new id, so its shards and rows
/// never meet the old ones, which are purged in the background.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.TableInfo")]
public sealed record TableInfo(string Name, bool Transactional, int Shards, DateTimeOffset CreatedAt, Guid Id, bool Encrypted = false);

/// <summary>How a create request relates to what already exists.</summary>
[GenerateSerializer, Alias("oc.TableCreateOutcome")]
public enum TableCreateOutcome
{
    /// <summary>The table did not exist and now does.</summary>
    Created,

    /// <summary>The table existed with the same spec; nothing changed.</summary>
    Identical,

    /// <summary>The table exists with a different spec; nothing changed.</summary>
    Conflict,

    /// <summary>Encryption at rest was asked for, but the silos have no encryption key configured; nothing changed.</summary>
    EncryptionNotConfigured,
}

/// <summary>The answer to a create request: the outcome and the table as it now is.</summary>
[GenerateSerializer, Immutable, Alias("oc.TableCreateResult")]
public sealed record TableCreateResult(TableCreateOutcome Outcome, TableInfo Table);

/// <summary>One page of a listing; <see cref="Next"/> is the cursor for the following page, or null at the end.</summary>
[GenerateSerializer, Immutable, Alias("oc.Page`1")]
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

/// <summary>Pages over a set of names in ordinal order, the way every name listing pages.</summary>
public static class NamePage
{
    /// <summary>Up to <paramref name="limit"/> of <paramref name="names"/> after <paramref name="after"/>; the cursor is the last name given.</summary>
    public static Page<string> Of(IEnumerable<string> names, string? after, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var items = names
            .Where(n => after is null || string.CompareOrdinal(n, after) > 0)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Take(limit + 1)
            .ToList();
        return items.Count > limit ? new Page<string>(items[..limit], items[limit - 1]) : new Page<string>(items, null);
    }
}
