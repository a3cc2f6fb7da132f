using OrleansCompute.Coordination;

namespace OrleansCompute.Grains.Coordination;

/// <summary>
/// A lock's holder (or an election's leader), its line of waiters and its tokens. Pure: the lock grain feeds it calls and
/// carries out what it says. Tokens only grow: each grant takes the next one, whether or not the
/// grant then holds (a waiter whose lease ended meanwhile burns its token).
/// </summary>
public sealed class LockLine
{
    private readonly LinkedList<Waiter> _waiters = new();

    public long LastToken { get; private set; }

    public LockHolder? Holder { get; private set; }

    /// <summary>The waiter being granted right now, between taking its token and its grant being durable.</summary>
    public Waiter? Granting { get; private set; }

    public int Waiting => _waiters.Count;

    /// <summary>Free, nobody waiting and no grant under way: a try-once acquire would get it.</summary>
    public bool IsFree => Holder is null && Granting is null && _waiters.Count == 0;

    /// <summary>The state an activation found in the store.</summary>
    public void Restore(long lastToken, LockHolder? holder)
    {
        LastToken = lastToken;
        Holder = holder;
    }

    /// <summary>Gets in line, at the end; a candidate brings the <paramref name="value"/> it leads with.</summary>
    public Waiter Join(string lease, string? value = null)
    {
        var waiter = new Waiter(lease, value);
        waiter.Node = _waiters.AddLast(waiter);
        return waiter;
    }

    /// <summary>Leaves the line. False when the waiter is no longer in it (being granted, or done).</summary>
    public bool Leave(Waiter waiter)
    {
        if (waiter.Node is not { } node)
        {
            return false;
        }

        _waiters.Remove(node);
        waiter.Node = null;
        return true;
    }

    /// <summary>
    /// When the lock is free and nobody is being granted, takes the first waiter out of line and
    /// makes it the holder with the next token. One release hands over to one waiter.
    /// </summary>
    public Waiter? GrantNext(DateTimeOffset now)
    {
        if (Holder is not null || Granting is not null || _waiters.First is not { } first)
        {
            return null;
        }

        var waiter = first.Value;
        Leave(waiter);
        LastToken++;
        waiter.Token = LastToken;
        Holder = new LockHolder(waiter.Lease, LastToken, now, waiter.Value);
        Granting = waiter;
        return waiter;
    }

    /// <summary>The grant under way is over (durable, or failed); true when its waiter still holds the lock.</summary>
    public bool GrantDone(Waiter waiter, bool holds)
    {
        if (ReferenceEquals(Granting, waiter))
        {
            Granting = null;
        }

        if (Holder?.Token == waiter.Token)
        {
            if (holds)
            {
                return true;
            }

            Holder = null;
        }

        return false;
    }

    /// <summary>Releases the lock held by <paramref name="token"/>. Changed is false when nothing moved (released before, or not the holder).</summary>
    public (ReleaseStatus Status, bool Changed) Release(long token)
    {
        if (Holder?.Token == token && Granting is null)
        {
            Holder = null;
            return (ReleaseStatus.Released, true);
        }

        // Released already: the lock is free or held by a later token, and this one was issued.
        return Holder is null && token >= 1 && token <= LastToken
            ? (ReleaseStatus.Released, false)
            : (ReleaseStatus.NotHolder, false);
    }

    /// <summary>Replaces the leader's value, if <paramref name="token"/> holds and no grant is under way.</summary>
    public bool Proclaim(long token, string value)
    {
        if (Holder?.Token != token || Granting is not null)
        {
            return false;
        }

        Holder = Holder with { Value = value };
        return true;
    }

    /// <summary>
    /// <paramref name="lease"/> ended: it no longer holds the lock, and its waiters leave the line.
    /// Returns whether the holder changed, and the waiters that left.
    /// </summary>
    public (bool HolderChanged, List<Waiter> Left) LeaseEnded(string lease)
    {
        var changed = false;
        if (Holder?.Lease == lease)
        {
            Holder = null;
            changed = true;
        }

        var left = _waiters.Where(w => w.Lease == lease).ToList();
        foreach (var waiter in left)
        {
            Leave(waiter);
        }

        return (changed, left);
    }

    /// <summary>One client in line: its lease, and the answer it waits for.</summary>
    public sealed class Waiter(string lease, string? value)
    {
        private readonly TaskCompletionSource<AcquireResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Lease { get; } = lease;

        public string? Value { get; } = value;

        public long Token { get; internal set; }

        internal LinkedListNode<Waiter>? Node { get; set; }

        public Task<AcquireResult> Answered => _result.Task;

        public void Answer(AcquireResult result) => _result.TrySetResult(result);

        public void Fail(Exception exception) => _result.TrySetException(exception);
    }
}
