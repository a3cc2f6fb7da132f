using Orleans.Runtime;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Grains;

/// <summary>
/// Turns the remaining budget a caller sent (<see cref="RequestDeadline.BudgetKey"/>) into a
/// deadline on this silo's monotonic clock for the call, and drops a call whose budget was spent
/// before it got here: it had no effect, and the caller has given up on it or is about to.
/// </summary>
/// <remarks>
/// The budget is taken out of the RequestContext, so it does not flow on by itself into the calls
/// and background work this call starts (a reshard a PATCH kicks off, a job a submission wakes):
/// only the grain the Api called decides on its request's deadline, and every effect in this
/// product is decided there (a shard's staging and commit, the coordinator's commit decision, a
/// job's insert).
/// </remarks>
public sealed class RequestDeadlineFilter : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (RequestContext.Get(RequestDeadline.BudgetKey) is not long budget)
        {
            await context.Invoke();
            return;
        }

        RequestContext.Remove(RequestDeadline.BudgetKey);
        using var deadline = RequestDeadline.Begin(TimeSpan.FromMilliseconds(budget));
        RequestDeadline.ThrowIfPassed("nothing was done");
        await context.Invoke();
    }
}
