using System.Diagnostics;

namespace OrleansCompute.Deadlines;

/// <summary>
/// The deadline of the request this code runs for, on this process's monotonic clock
/// (<see cref="Stopwatch.GetTimestamp"/>), or none. Work whose deadline has passed is dropped
/// without effect before it stages or commits, so a write takes effect before its deadline or never.
/// </summary>
/// <remarks>
/// It crosses a process boundary as a remaining budget in milliseconds (<see cref="BudgetKey"/> in
/// Orleans' RequestContext), never as an instant: the receiving silo re-derives a deadline against
/// its own monotonic clock, so a silo whose wall clock is skewed (±30 s in the fault tests) neither
/// drops fresh work nor keeps stale work. The Api sets it per request; the silo's incoming filter
/// reads it for the call. Time a message spends between processes is not counted (docs/reliability.md).
/// </remarks>
public static class RequestDeadline
{
    /// <summary>The RequestContext key of the remaining budget, in whole milliseconds.</summary>
    public const string BudgetKey = "oc-deadline-budget-ms";

    /// <summary>
    /// The RequestContext key of the same deadline on the store's clock (<see cref="StoreClock"/>;
    /// <see cref="DateTime.Ticks"/>, UTC), sent beside the budget once the caller has mapped that
    /// clock: the budget cannot count time a call spent held between processes, this can.
    /// </summary>
    public const string StoreDeadlineKey = "oc-deadline-store-ticks";

    private static readonly AsyncLocal<long> Current = new();

    /// <summary>The deadline as a <see cref="Stopwatch"/> timestamp; 0 when this flow has none.</summary>
    public static long Timestamp => Current.Value;

    /// <summary>True when this flow has a deadline and it has passed.</summary>
    public static bool HasPassed => Current.Value is var at and not 0 && Stopwatch.GetTimestamp() >= at;

    /// <summary>Time left before the deadline (never negative); null when this flow has none.</summary>
    public static TimeSpan? Remaining => Current.Value is var at and not 0
        ? TimeSpan.FromSeconds(Math.Max(0, at - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency)
        : null;

    /// <summary>Sets the deadline <paramref name="budget"/> from now for this flow until the scope is disposed.</summary>
    public static Scope Begin(TimeSpan budget)
    {
        var previous = Current.Value;
        var at = Stopwatch.GetTimestamp() + (long)(Math.Max(0, budget.TotalSeconds) * Stopwatch.Frequency);
        // Never 0, which means "none": an already-passed budget is one tick in the past.
        Current.Value = at == 0 ? 1 : at;
        return new Scope(previous);
    }

    /// <summary><paramref name="wait"/>, shortened to what is left of the deadline.</summary>
    public static TimeSpan Cap(TimeSpan wait) => Remaining is { } left && left < wait ? left : wait;

    /// <summary>Throws <see cref="DeadlineExceededException"/> when the deadline has passed: call it right before work takes effect.</summary>
    public static void ThrowIfPassed(string nothingDone)
    {
        if (HasPassed)
        {
            throw new DeadlineExceededException($"The request's deadline passed before it took effect; {nothingDone}. Retry.");
        }
    }

    /// <summary>A deadline set by <see cref="Begin"/>; disposing restores the one before.</summary>
    public readonly struct Scope(long previous) : IDisposable
    {
        /// <summary>Restores the deadline that was current before <see cref="Begin"/>.</summary>
        public void Dispose() => Current.Value = previous;
    }
}

/// <summary>
/// Work was dropped because its request's deadline passed before it staged or committed: nothing
/// was applied, and a retry is safe. The Api answers it 503 <c>deadline-exceeded</c> with Retry-After,
/// never <c>outcome-unknown</c>.
/// </summary>
[GenerateSerializer, Alias("oc.DeadlineExceededException")]
public sealed class DeadlineExceededException(string message) : Exception(message);
