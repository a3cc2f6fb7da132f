using System.Diagnostics;
using Orleans.Runtime;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Grains;

/// <summary>
/// Turns the remaining budget a caller sent (<see cref="RequestDeadline.BudgetKey"/>) into a
/// deadline on this silo's monotonic clock for the call, and drops a call whose budget was spent
/// before it got here: it had no effect, and the caller has given up on it or is about to.
/// The budget restarts on arrival, so a call held on its way (in a cut, or in this silo's socket
/// while it was paused) would get all of it again; the deadline on the store's clock
/// (<see cref="RequestDeadline.StoreDeadlineKey"/>), where the caller sent one and this silo has
/// mapped that clock, cuts the budget to what is really left.
/// </summary>
/// <remarks>
/// The budget is taken out of the RequestContext, so it does not flow on by itself into the calls
/// and background work this call starts (a reshard a PATCH kicks off, a job a submission wakes):
/// only the grain the Api called decides on its request's deadline, and every effect in this
/// product is decided there (a shard's staging and commit, the coordinator's commit decision, a
/// job's insert).
/// </remarks>
public sealed class RequestDeadlineFilter(StoreClock storeClock) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (RequestContext.Get(RequestDeadline.BudgetKey) is not long budget)
        {
            await context.Invoke();
            return;
        }

        RequestContext.Remove(RequestDeadline.BudgetKey);
        var left = TimeSpan.FromMilliseconds(budget);
        if (RequestContext.Get(RequestDeadline.StoreDeadlineKey) is long storeDeadline)
        {
            RequestContext.Remove(RequestDeadline.StoreDeadlineKey);
            // This silo's mapping is never early, so what it leaves is never more than is really left.
            if (storeClock.StoreTimeAt(Stopwatch.GetTimestamp()) is { } storeNow)
            {
                var byStore = new DateTime(storeDeadline, DateTimeKind.Utc) - storeNow;
                left = byStore < left ? byStore : left;
            }
        }

        using var deadline = RequestDeadline.Begin(left);
        RequestDeadline.ThrowIfPassed("nothing was done");
        await context.Invoke();
    }
}
