using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Transactions;

/// <summary>What a transaction operation does to its key.</summary>
[GenerateSerializer, Alias("oc.TxnOpKind")]
public enum TxnOpKind
{
    /// <summary>Reads the key.</summary>
    Get,

    /// <summary>Writes the key's value, creating it if absent.</summary>
    Put,

    /// <summary>Removes the key.</summary>
    Delete,

    /// <summary>Adds a number to the key's numeric value (an absent key counts as 0).</summary>
    Add,
}

/// <summary>What a compare looks at: the key's JSON value, its version (0 when absent), or whether it exists.</summary>
[GenerateSerializer, Alias("oc.TxnCompareTarget")]
public enum TxnCompareTarget
{
    /// <summary>The key's JSON value.</summary>
    Value,

    /// <summary>The key's version; 0 when it is absent.</summary>
    Version,

    /// <summary>Whether the key exists.</summary>
    Exists,
}

/// <summary>How a compare relates the key's side (left) to the given value (right).</summary>
[GenerateSerializer, Alias("oc.TxnCompareOp")]
public enum TxnCompareOp
{
    /// <summary>==</summary>
    Equal,

    /// <summary>!=</summary>
    NotEqual,

    /// <summary>&gt;</summary>
    Greater,

    /// <summary>&gt;=</summary>
    GreaterOrEqual,

    /// <summary>&lt;</summary>
    Less,

    /// <summary>&lt;=</summary>
    LessOrEqual,
}

/// <summary>
/// One key of a transactional table, resolved by the Api: <see cref="GrainKey"/> is the key grain
/// (<see cref="TxnKeys.KeyGrain(string, TableInfo, string)"/>), which carries the tenant and the table incarnation.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.TxnKeyRef")]
public sealed record TxnKeyRef(string Table, string Key, string GrainKey);

/// <summary>One condition of a transaction. <see cref="Value"/> is the JSON text (UTF-8) to compare with.</summary>
[GenerateSerializer, Immutable, Alias("oc.TxnCompare")]
public sealed record TxnCompare(TxnKeyRef Key, TxnCompareTarget Target, TxnCompareOp Op, byte[] Value);

/// <summary>
/// One operation of a branch. <see cref="Value"/> is the JSON text of a put, or the JSON number an
/// add adds; null for get and delete.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.TxnOp")]
public sealed record TxnOp(TxnOpKind Kind, TxnKeyRef Key, byte[]? Value = null, KvFence? Fence = null);

/// <summary>A transaction: if every compare holds, <see cref="Success"/> runs, else <see cref="Failure"/>, all in one serializable transaction.</summary>
[GenerateSerializer, Immutable, Alias("oc.TxnRequest")]
public sealed record TxnRequest(TxnCompare[] Compare, TxnOp[] Success, TxnOp[] Failure);

/// <summary>
/// A key as an operation left it: its JSON value (null when absent) and version (0 when absent).
/// <see cref="FencedBy"/>, when set, is the higher token its lock already wrote with: the fenced write did nothing.
/// <see cref="Change"/> is the number of the key's last change as the operation left it (0: it never
/// changed), and <see cref="Revision"/> that change's revision in its shard, as watch shows it: 0
/// when there is none, null while the change is not yet logged (its transaction has not committed,
/// or its key's Store that logs it has not run yet), which the coordinator resolves after the commit.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.TxnKeyValue")]
public sealed record TxnKeyValue(byte[]? Value, long Version, long? FencedBy = null, long Change = 0, long? Revision = 0)
{
    /// <summary>A key that does not exist.</summary>
    public static readonly TxnKeyValue Absent = new(null, 0);

    /// <summary>True when the key exists.</summary>
    public bool Exists => Value is not null;
}

/// <summary>How a transaction ended.</summary>
[GenerateSerializer, Alias("oc.TxnOutcome")]
public enum TxnOutcome
{
    /// <summary>The chosen branch committed (or, for a read-only branch, read a serializable snapshot).</summary>
    Committed,

    /// <summary>Conflicting transactions kept aborting it, retries included; nothing was applied.</summary>
    Conflict,

    /// <summary>An operation could not apply (e.g. add to a value that is not a number); nothing was applied.</summary>
    Rejected,

    /// <summary>A fenced op carried a token below the key's highest for its lock, or one the lock never issued (<see cref="TxnResult.OpIndex"/>); nothing was applied.</summary>
    Fenced,

    /// <summary>Participants could not be reached before commit; nothing was applied.</summary>
    Unavailable,

    /// <summary>The commit was started but its outcome could not be learned: it may or may not have applied.</summary>
    OutcomeUnknown,
}

/// <summary>
/// The answer to a <see cref="TxnRequest"/>. On <see cref="TxnOutcome.Committed"/>,
/// <see cref="Succeeded"/> says which branch ran and <see cref="Results"/> has one entry per op of
/// it. On <see cref="TxnOutcome.Rejected"/>, <see cref="OpIndex"/> names the op of the branch that
/// could not apply. <see cref="Message"/> explains any other outcome.
/// </summary>
[GenerateSerializer, Immutable, Alias("oc.TxnResult")]
public sealed record TxnResult(TxnOutcome Outcome, bool Succeeded, TxnKeyValue[] Results, int? OpIndex = null, string? Message = null);

/// <summary>One page of a transactional table's committed keys, read in one transaction.</summary>
[GenerateSerializer, Immutable, Alias("oc.TxnScanPage")]
public sealed record TxnScanPage(TxnOutcome Outcome, IReadOnlyList<KvItem> Items, bool More, string? Message = null);

/// <summary>The grain keys of transactional tables. The Api and the grains must agree, so both use this.</summary>
public static class TxnKeys
{
    /// <summary>
    /// The key grain of <paramref name="key"/>: tenant, table incarnation and shard, then the key
    /// itself (which may contain '/', so it comes last). The shard names the key's index grain.
    /// </summary>
    public static string KeyGrain(string tenant, TableInfo table, string key) =>
        KeyGrain(tenant, table.Id, ShardMap.ShardOf(key, table.Shards), key);

    /// <summary>The key grain of <paramref name="key"/>, which lives in <paramref name="shard"/>.</summary>
    public static string KeyGrain(string tenant, Guid tableId, int shard, string key) =>
        TenantKey.For(tenant, $"{tableId:N}/{shard}/{key}");

    /// <summary>The index grain of one shard of a transactional table: the set of its committed keys, for scans.</summary>
    public static string IndexGrain(string tenant, Guid tableId, int shard) => TenantKey.For(tenant, $"{tableId:N}/{shard}");

    /// <summary>Leaf <paramref name="leaf"/> of the index grain <paramref name="indexGrain"/>.</summary>
    public static string LeafGrain(string indexGrain, int leaf) => $"{indexGrain}#{leaf}";

    /// <summary>Reads a key made by <see cref="KeyGrain(string, Guid, int, string)"/>.</summary>
    public static (string Tenant, Guid TableId, int Shard, string Key) ParseKeyGrain(string grainKey)
    {
        var (tenant, rest) = TenantKey.Parse(grainKey);
        var first = rest.IndexOf('/');
        var second = rest.IndexOf('/', first + 1);
        return (tenant, Guid.ParseExact(rest[..first], "N"), int.Parse(rest[(first + 1)..second]), rest[(second + 1)..]);
    }
}
