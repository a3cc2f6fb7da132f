using Orleans.Runtime;
using OrleansCompute.Deadlines;

namespace OrleansCompute.Api.Cluster;

/// <summary>
/// The request deadline and the answer bound (configuration section <c>Requests</c>, SPEC §8,
/// docs/reliability.md). Every /v1 request must take effect within <see cref="Deadline"/> of
/// arriving or not at all, and is answered within <see cref="AnswerBound"/>: the extra time lets a
/// silo that dropped late work say so (a definite "nothing applied") before the Api stops waiting.
/// </summary>
public sealed class RequestDeadlineOptions
{
    /// <summary>Upper limit of <see cref="AnswerBound"/>: the bound the Api documents.</summary>
    public static readonly TimeSpan MaxAnswerBound = TimeSpan.FromSeconds(5);

    /// <summary>How long a request's work may take effect after the Api received it (<c>Requests__Deadline</c>).</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>When the Api answers at the latest, 503 with Retry-After if nothing answered (<c>Requests__AnswerBound</c>); at least <see cref="Deadline"/>.</summary>
    public TimeSpan AnswerBound { get; set; } = TimeSpan.FromSeconds(4.75);

    /// <summary>
    /// The longest a long poll from the Api (a watch feed, a job's event stream) asks a grain to
    /// wait: inside the answer bound, which is every Api grain call's response timeout, so a quiet
    /// poll ends with an answer rather than a timeout.
    /// </summary>
    public TimeSpan LongPollWait => AnswerBound * 3 / 4;

    /// <summary>Checks the settings once at start: a wrong bound must not be found out under a fault.</summary>
    public void Validate()
    {
        if (Deadline <= TimeSpan.Zero || AnswerBound < Deadline)
        {
            throw new InvalidOperationException($"Requests:Deadline ({Deadline}) must be positive and Requests:AnswerBound ({AnswerBound}) at least as long.");
        }
    }
}

/// <summary>
/// What the Api knows of a request's deadline; <see cref="ClientAborted"/> is the caller's own
/// abort, as opposed to the Api giving up at the answer bound.
/// </summary>
public sealed class RequestDeadlineFeature(CancellationToken clientAborted, CancellationToken answerBoundReached)
{
    public CancellationToken ClientAborted { get; } = clientAborted;

    public CancellationToken AnswerBoundReached { get; } = answerBoundReached;
}

/// <summary>Marks an endpoint that waits on purpose (a lock acquire's waitSeconds, a stream): no request deadline applies.</summary>
public sealed class WaitsBeyondRequestDeadline
{
    public static readonly WaitsBeyondRequestDeadline Instance = new();
}

public static class RequestDeadlines
{
    /// <summary>Exempts an endpoint from the request deadline: it waits for as long as the caller asked, or streams.</summary>
    public static TBuilder WaitsBeyondTheRequestDeadline<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(WaitsBeyondRequestDeadline.Instance);

    /// <summary>
    /// Gives every /v1 request its deadline: the ambient <see cref="RequestDeadline"/> (sent to
    /// the silos as a budget by <see cref="RequestDeadlineBudgetFilter"/>), and a
    /// <see cref="HttpContext.RequestAborted"/> that also fires at the answer bound, so every
    /// grain call made with it ends then and the request is answered 503 with Retry-After.
    /// </summary>
    public static IApplicationBuilder UseRequestDeadlines(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<RequestDeadlineOptions>>().Value;
        options.Validate();
        return app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/v1")
                || context.GetEndpoint()?.Metadata.GetMetadata<WaitsBeyondRequestDeadline>() is not null)
            {
                await next(context);
                return;
            }

            var clientAborted = context.RequestAborted;
            using var bound = new CancellationTokenSource(options.AnswerBound);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, bound.Token);
            context.Features.Set(new RequestDeadlineFeature(clientAborted, bound.Token));
            context.RequestAborted = linked.Token;
            using var deadline = RequestDeadline.Begin(options.Deadline);
            try
            {
                await next(context);
            }
            finally
            {
                context.RequestAborted = clientAborted;
            }
        });
    }

    /// <summary>
    /// For an endpoint exempt from the request deadline because it waits on purpose: a token that
    /// fires <paramref name="wait"/> plus the answer bound from now (or with <paramref name="cancellationToken"/>),
    /// so even a call to a paused silo is answered, 503, once the wait the caller asked for is over.
    /// </summary>
    public static CancellationTokenSource BoundedWait(HttpContext context, CancellationToken cancellationToken, TimeSpan wait)
    {
        var options = context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<RequestDeadlineOptions>>().Value;
        var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(wait + options.AnswerBound);
        return bounded;
    }

    /// <summary>True when the Api stopped waiting for the cluster because the request reached its answer bound.</summary>
    public static bool AnswerBoundReached(HttpContext context) =>
        context.Features.Get<RequestDeadlineFeature>()?.AnswerBoundReached.IsCancellationRequested == true;

    /// <summary>True when the caller itself went away (as opposed to the Api giving up at the answer bound).</summary>
    public static bool ClientAborted(HttpContext context) =>
        context.Features.Get<RequestDeadlineFeature>() is { } feature
            ? feature.ClientAborted.IsCancellationRequested
            : context.RequestAborted.IsCancellationRequested;
}

/// <summary>
/// Sends what is left of the request's deadline with every grain call the Api makes, as a budget
/// in milliseconds: the silo re-derives a deadline from it on its own monotonic clock, immune to
/// skew between the clocks of the Api and the silos. The budget restarts where the call arrives,
/// so the call also carries the deadline on the store's clock once this Api has mapped it
/// (<see cref="StoreClock"/>): a call held on its way past that instant is dropped on arrival.
/// </summary>
public sealed class RequestDeadlineBudgetFilter(StoreClock storeClock) : IOutgoingGrainCallFilter
{
    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (RequestDeadline.Remaining is { } left)
        {
            RequestContext.Set(RequestDeadline.BudgetKey, (long)left.TotalMilliseconds);
            if (storeClock.StoreTimeAt(RequestDeadline.Timestamp) is { } storeDeadline)
            {
                RequestContext.Set(RequestDeadline.StoreDeadlineKey, storeDeadline.Ticks);
            }
        }

        return context.Invoke();
    }
}
