namespace OrleansCompute.Grains.Storage;

/// <summary>What a <see cref="WriteCoalescer{T}"/> does when a flush throws.</summary>
public sealed class FlushFailure
{
    private static readonly Func<Exception, bool> Never = static _ => false;

    private readonly Func<Task>? _backOff;

    private FlushFailure(FlushFailureKind kind, Func<Task>? backOff, Func<Exception, bool> isFinal)
    {
        Kind = kind;
        _backOff = backOff;
        IsFinal = isFinal;
    }

    /// <summary>
    /// The failed group's waiters hear of the failure; the next group is flushed as usual. For writes
    /// that stand on their own, such as rows each compare-and-set on their own ETag: whoever hears of
    /// a failure reloads and decides.
    /// </summary>
    public static FlushFailure FailGroup { get; } = new(FlushFailureKind.FailGroup, null, Never);

    /// <summary>
    /// The failed group's waiters, and those of every write queued behind it, hear of the failure,
    /// and the coalescer takes no more writes. For writes that build on one another: the caller's
    /// state is ahead of the store, and only a reload tells what was stored.
    /// </summary>
    public static FlushFailure FailAll { get; } = new(FlushFailureKind.FailAll, null, Never);

    internal FlushFailureKind Kind { get; }

    internal Func<Exception, bool> IsFinal { get; }

    /// <summary>
    /// The failed group's waiters hear of the failure (a request need not hang while the store is
    /// down), and its writes go out again after <paramref name="backOff"/>, together with whatever was
    /// added meanwhile, until they are stored. A failure for which <paramref name="isFinal"/> holds
    /// (another owner fenced the writer) acts as <see cref="FailAll"/>. For a writer whose writes
    /// describe state it still holds: a retry writes that state again, so repeating it is harmless.
    /// </summary>
    public static FlushFailure Retry(Func<Task> backOff, Func<Exception, bool>? isFinal = null) =>
        new(FlushFailureKind.Retry, backOff, isFinal ?? Never);

    internal Task BackOffAsync() => _backOff?.Invoke() ?? Task.CompletedTask;
}

internal enum FlushFailureKind
{
    FailGroup,
    FailAll,
    Retry,
}
