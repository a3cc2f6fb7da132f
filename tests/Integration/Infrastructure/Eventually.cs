using System.Diagnostics;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>Waits for a condition with a deadline, polling; tests never sleep for a fixed time.</summary>
public static class Eventually
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>Polls until <paramref name="condition"/> holds; returns how long it took, or throws naming <paramref name="what"/>.</summary>
    public static async Task<TimeSpan> WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (clock.Elapsed < timeout)
        {
            try
            {
                if (await condition())
                {
                    return clock.Elapsed;
                }
            }
            catch (Exception ex)
            {
                last = ex;
            }

            await Task.Delay(PollInterval);
        }

        throw new TimeoutException($"Timed out after {timeout} waiting for: {what}.", last);
    }
}
