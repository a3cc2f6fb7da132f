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
///
/// <see cref="Id"/> and <see cref="Shards"/> name the table's current shard layout. While the table
/// reshards, <see cref="Resharding"/> names the layout it is moving to and which shards of the
/// current one have moved there; when every shard has, the new layout becomes the current one.
///
/// <see cref="Retired"/> lists the layouts earlier reshards retired, oldest first (the last few):
/// a watch cursor on one of them resumes there and follows the reshards to the current layout.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.TableInfo")]
public sealed record TableInfo(string Name, bool Transactional, int Shards, DateTimeOffset CreatedAt, Guid Id, bool Encrypted = false, Resharding? Resharding = null, IReadOnlyList<RetiredLayout>? Retired = null);

/// <summary>A shard layout a reshard retired: its id and shard count. Its shards are sealed; their change logs stay for the watch retention.</summary>
[GenerateSerializer, Immutable, Alias("oc.RetiredLayout")]
public sealed record RetiredLayout(Guid Id, int Shards);

/// <summary>
/// A reshard in progress: the table's keys move, one current shard at a time, to <see cref="To"/>
/// shards under the layout id <see cref="ToId"/>. <see cref="Moved"/> lists the current shards whose
/// keys now live in the new layout; <see cref="Coordinator"/> is the silo driving it.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.Resharding")]
public sealed record Resharding(int To, Guid ToId, IReadOnlyList<int> Moved, DateTimeOffset StartedAt, string? Coordinator = null)
{
    /// <summary>True when the keys of current shard <paramref name="shard"/> live in the new layout.</summary>
    public bool HasMoved(int shard) => Moved.Contains(shard);

    /// <summary>
    /// This reshard with <paramref name="shard"/> recorded moved by <paramref name="coordinator"/>.
    /// <see cref="Moved"/> is an array, not a collection expression: into an IReadOnlyList that makes
    /// a compiler-made type, which the JSON grain storage writes by name and then refuses to read
    /// back, so a coordinator reactivated mid-reshard could not load its table.
    /// </summary>
    public Resharding WithMoved(int shard, string coordinator) => this with { Moved = Moved.Append(shard).ToArray(), Coordinator = coordinator };
}

/// <summary>How a reshard request relates to the table.</summary>
[GenerateSerializer, Alias("oc.ReshardOutcome")]
public enum ReshardOutcome
{
    /// <summary>The reshard started (or the table already has that many shards).</summary>
    Started,

    /// <summary>The table has that many shards already; nothing to do.</summary>
    Unchanged,

    /// <summary>There is no such table.</summary>
    NotFound,

    /// <summary>Another reshard of the table is still running; nothing changed.</summary>
    InProgress,

    /// <summary>The new count is neither a multiple nor a divisor of the current one; nothing changed.</summary>
    NotAFactor,

    /// <summary>The table is transactional; its keys live in grains of their own, not in shards that could split.</summary>
    Transactional,
}

/// <summary>The answer to a reshard request: the outcome and the table as it now is.</summary>
[GenerateSerializer, Immutable, Alias("oc.ReshardResult")]
public sealed record ReshardResult(ReshardOutcome Outcome, TableInfo? Table);

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
