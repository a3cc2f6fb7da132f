using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Coordination;

namespace OrleansCompute.Api.Coordination;

/// <summary>
/// How an acquire or a campaign waits: it first tries once, and takes a waiter slot (a call to the
/// tenant's slot grain) only when it must wait in line, so a free lock costs one grain call and the
/// limit counts only requests that wait. Each step is answered within the answer bound, the wait
/// within its waitSeconds more (docs/reliability.md).
/// </summary>
public static class WaitingLine
{
    /// <summary>The outcome of <paramref name="acquire"/>, or the 429 (limit reached) or 503 (limit not checked) that refused the wait.</summary>
    public static async Task<(AcquireResult? Result, ProblemHttpResult? Refused)> AcquireAsync(
        HttpContext http, WaiterSlots slots, TimeSpan wait, string waiting,
        Func<TimeSpan, CancellationToken, Task<AcquireResult>> acquire, CancellationToken cancellationToken)
    {
        AcquireResult once;
        using (var bounded = RequestDeadlines.BoundedWait(http, cancellationToken, TimeSpan.Zero))
        {
            once = await acquire(TimeSpan.Zero, bounded.Token);
        }

        if (wait <= TimeSpan.Zero || once.Status != AcquireStatus.Held)
        {
            return (once, null);
        }

        SlotTake take;
        using (var bounded = RequestDeadlines.BoundedWait(http, cancellationToken, TimeSpan.Zero))
        {
            take = await slots.TryTakeAsync(http.Tenant(), bounded.Token);
        }

        if (take.Slot is not { } slot)
        {
            return (null, take.IsUnavailable
                ? Problems.SlotsUnavailable(http, "waiter")
                : TypedResults.Problem(
                    statusCode: StatusCodes.Status429TooManyRequests,
                    type: ProblemTypes.QuotaExceeded,
                    title: "Too many waiters",
                    detail: $"This tenant has {slots.Limit} {waiting} waiting, as many as it may. Retry later."));
        }

        using (slot)
        {
            // Exempt from the request deadline, but answered once the wait asked for and the answer bound are over.
            using var bounded = RequestDeadlines.BoundedWait(http, cancellationToken, wait);
            return (await acquire(wait, bounded.Token), null);
        }
    }
}
