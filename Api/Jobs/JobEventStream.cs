using System.Diagnostics;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Errors;
using OrleansCompute.Jobs;

namespace OrleansCompute.Api.Jobs;

/// <summary>
/// <c>GET /v1/jobs/{id}/events</c> after its first event: a long poll of the job grain per event
/// (of <see cref="RequestDeadlineOptions.LongPollWait"/>; a quiet job is asked again, and the same
/// version is not sent twice), a <c>progress</c> event at every change and <c>end</c> when the job ends.
///
/// The stream outlives the request handler, so it cannot rely on <see cref="GatewayLossFilter"/>:
/// it links each poll to the gateway-loss signal itself. A poll lost with its gateway, or with the
/// silo of the job (which then goes on in an activation elsewhere), is asked again, and the
/// stream goes on: a follower sees a silo's death as one more <c>progress</c> event, not as a
/// broken stream. Only when the cluster stays unreachable for <see cref="FailoverBound"/> does the
/// stream end without <c>end</c>, so that the client reopens it and hears 503 from then on.
/// </summary>
public static partial class JobEventStream
{
    /// <summary>Longer than a silo's death takes to be noticed and its grains to move (a few seconds).</summary>
    private static readonly TimeSpan FailoverBound = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(250);

    public static async IAsyncEnumerable<SseItem<JobResponse>> Follow(
        IJobGrain job, JobView first, TimeSpan pollWait, ClusterConnection connection, ILogger logger, [EnumeratorCancellation] CancellationToken requestAborted)
    {
        var view = first;
        yield return Event(view, "progress");
        while (!view.Status.IsTerminal())
        {
            var (next, failedOver) = await NextAsync(job, view.Version, pollWait, connection, logger, requestAborted);
            if (next is null)
            {
                yield break;
            }

            // After a failover the job's versions may start again in its new activation: show what it is now.
            if ((next.Version != view.Version || failedOver) && !next.Status.IsTerminal())
            {
                yield return Event(next, "progress");
            }

            view = next;
        }

        yield return Event(view, "end");
    }

    /// <summary>The job once it changed past <paramref name="seenVersion"/>; null when it is gone or the cluster stayed away.</summary>
    private static async Task<(JobView? View, bool FailedOver)> NextAsync(
        IJobGrain job, long seenVersion, TimeSpan pollWait, ClusterConnection connection, ILogger logger, CancellationToken requestAborted)
    {
        Stopwatch? faultedFor = null;
        while (true)
        {
            using var call = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, connection.GatewayLost);
            try
            {
                // After a fault the version seen may belong to a dead activation: read the job at once instead of waiting on it.
                return faultedFor is null
                    ? (await job.WaitForChangeAsync(seenVersion, pollWait, call.Token), false)
                    : (await job.GetAsync(call.Token), true);
            }
            catch (Exception ex) when (!requestAborted.IsCancellationRequested && (ex is OperationCanceledException || ClusterFaults.IsUnavailable(ex)))
            {
                faultedFor ??= Stopwatch.StartNew();
                if (faultedFor.Elapsed > FailoverBound)
                {
                    LogGaveUp(logger, job.GetPrimaryKeyString(), FailoverBound, ex);
                    return (null, true);
                }

                await Task.Delay(RetryPause, requestAborted);
            }
        }
    }

    private static SseItem<JobResponse> Event(JobView view, string type) =>
        new(JobResponse.From(view), type) { EventId = view.Version.ToString(CultureInfo.InvariantCulture) };

    [LoggerMessage(Level = LogLevel.Warning, Message = "The event stream of job {Job} ends before the job: the cluster did not answer for {Bound}")]
    private static partial void LogGaveUp(ILogger logger, string job, TimeSpan bound, Exception fault);
}
