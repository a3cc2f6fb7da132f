namespace OrleansCompute.Coordination;

/// <summary>Something that ends with a lease: a lock it holds, an election it leads, or a key (deleted when it ends).</summary>
[GenerateSerializer, Immutable, Alias("oc.LeaseItem")]
public sealed record LeaseItem(string Kind, string Name)
{
    /// <summary>A lock the lease holds.</summary>
    public const string LockKind = "lock";

    /// <summary>An election the lease leads.</summary>
    public const string ElectionKind = "election";

    /// <summary>A key of a sharded table, named as <see cref="ForKey"/> names it: the lease's end deletes it.</summary>
    public const string KeyKind = "key";

    /// <summary>The item of <paramref name="key"/> in <paramref name="table"/>; a table name holds no '/', so the first one splits them.</summary>
    public static LeaseItem ForKey(string table, string key) => new(KeyKind, $"{table}/{key}");

    /// <summary>The table and key of a <see cref="KeyKind"/> item.</summary>
    public (string Table, string Key) TableAndKey => (Name[..Name.IndexOf('/')], Name[(Name.IndexOf('/') + 1)..]);
}

/// <summary>A live lease as <c>GET /v1/leases/{id}</c> shows it.</summary>
[GenerateSerializer, Immutable, Alias("oc.LeaseView")]
public sealed record LeaseView(string Id, int TtlSeconds, long RemainingMs, IReadOnlyList<LeaseItem> Items);

/// <summary>How a grant ended.</summary>
[GenerateSerializer, Alias("oc.LeaseGrantStatus")]
public enum LeaseGrantStatus
{
    /// <summary>The lease exists from now.</summary>
    Granted,

    /// <summary>The tenant holds as many live leases as it may.</summary>
    LimitReached,

    /// <summary>The id is taken (a retried grant, or a collision): nothing changed.</summary>
    Exists,
}

/// <summary>The answer to a grant: when granted, the lease ends no sooner than <see cref="ExpiresAt"/>.</summary>
[GenerateSerializer, Immutable, Alias("oc.LeaseGrant")]
public sealed record LeaseGrant(LeaseGrantStatus Status, DateTimeOffset ExpiresAt);

/// <summary>A lock's holder (or an election's leader): the lease that holds it, its fencing token, when it was granted and, for a leader, its value (JSON text).</summary>
[GenerateSerializer, Immutable, Alias("oc.LockHolder")]
public sealed record LockHolder(string Lease, long Token, DateTimeOffset AcquiredAt, string? Value = null);

/// <summary>A lock as <c>GET /v1/locks/{name}</c> shows it.</summary>
[GenerateSerializer, Immutable, Alias("oc.LockView")]
public sealed record LockView(LockHolder? Holder, int Waiters);

/// <summary>How an acquire ended.</summary>
[GenerateSerializer, Alias("oc.AcquireStatus")]
public enum AcquireStatus
{
    /// <summary>The lease holds it, with the token answered.</summary>
    Granted,

    /// <summary>Not granted within the wait: someone else holds the lock.</summary>
    Held,

    /// <summary>The lease named does not exist or ended (also while waiting).</summary>
    LeaseNotFound,
}

/// <summary>The answer to an acquire: the token when granted.</summary>
[GenerateSerializer, Immutable, Alias("oc.AcquireResult")]
public sealed record AcquireResult(AcquireStatus Status, long Token = 0);

/// <summary>How a release ended.</summary>
[GenerateSerializer, Alias("oc.ReleaseStatus")]
public enum ReleaseStatus
{
    /// <summary>Released now, or this token had released it already.</summary>
    Released,

    /// <summary>Another token holds the lock, or the lock never issued this one: nothing changed.</summary>
    NotHolder,
}

/// <summary>How a proclaim ended.</summary>
[GenerateSerializer, Alias("oc.ProclaimStatus")]
public enum ProclaimStatus
{
    /// <summary>The leader's value is the new one, durably.</summary>
    Proclaimed,

    /// <summary>The token does not lead (any more): nothing changed.</summary>
    NotLeader,
}

/// <summary>One state of an election as observers see it: the leader, or null; <see cref="Sequence"/> grows with every change.</summary>
[GenerateSerializer, Immutable, Alias("oc.LeaderChange")]
public sealed record LeaderChange(long Sequence, LockHolder? Leader);
