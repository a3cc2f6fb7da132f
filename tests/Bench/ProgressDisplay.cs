using System.Diagnostics;
using System.Globalization;

namespace OrleansCompute.Bench;

/// <summary>What a running workload reports to the progress line.</summary>
public readonly record struct ProgressSample(string Phase, TimeSpan Elapsed, TimeSpan PhaseLength, long Ops, long Errors);

/// <summary>
/// The live progress of the running workload: one line rewritten in place with <c>\r</c> when
/// stdout is a terminal, otherwise one line per second (logs, CI, pipes).
/// </summary>
public sealed class ProgressDisplay(TextWriter output, bool interactive)
{
    private readonly Lock _gate = new();
    private int _lineLength;

    public static ProgressDisplay ForConsole() => new(Console.Out, !Console.IsOutputRedirected);

    private bool Interactive => interactive;

    /// <summary>Prints a normal line, first clearing the progress line if one is showing.</summary>
    public void WriteLine(string text)
    {
        lock (_gate)
        {
            ClearLine();
            output.WriteLine(text);
            output.Flush();
        }
    }

    /// <summary>Shows the progress of <paramref name="label"/> until the returned handle is disposed.</summary>
    public IAsyncDisposable Start(string label, Func<ProgressSample> sample) => new Ticker(this, label, sample);

    private void Show(string line)
    {
        lock (_gate)
        {
            if (interactive)
            {
                output.Write('\r');
                output.Write(line.PadRight(_lineLength));
                _lineLength = line.Length;
            }
            else
            {
                output.WriteLine(line);
            }

            output.Flush();
        }
    }

    private void ClearLine()
    {
        if (interactive && _lineLength > 0)
        {
            output.Write('\r');
            output.Write(new string(' ', _lineLength));
            output.Write('\r');
            _lineLength = 0;
        }
    }

    private static string Format(string label, ProgressSample sample, double rate) => string.Create(
        CultureInfo.InvariantCulture,
        $"  {label,-28} {sample.Phase,-8} {sample.Elapsed.TotalSeconds,5:0.0}/{sample.PhaseLength.TotalSeconds:0}s  ops {sample.Ops,10:N0}  rate {rate,9:N0}/s  errors {sample.Errors:N0}");

    private sealed class Ticker : IAsyncDisposable
    {
        private readonly ProgressDisplay _display;
        private readonly string _label;
        private readonly Func<ProgressSample> _sample;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public Ticker(ProgressDisplay display, string label, Func<ProgressSample> sample)
        {
            _display = display;
            _label = label;
            _sample = sample;
            _loop = RunAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
            lock (_display._gate)
            {
                _display.ClearLine();
            }
        }

        private async Task RunAsync()
        {
            var period = _display.Interactive ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(1);
            using var timer = new PeriodicTimer(period);
            var lastOps = 0L;
            var lastTime = Stopwatch.GetTimestamp();
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                {
                    var sample = _sample();
                    var now = Stopwatch.GetTimestamp();
                    var seconds = Stopwatch.GetElapsedTime(lastTime, now).TotalSeconds;
                    var rate = seconds > 0 ? Math.Max(0, sample.Ops - lastOps) / seconds : 0;
                    lastOps = sample.Ops;
                    lastTime = now;
                    _display.Show(Format(_label, sample, rate));
                }
            }
            catch (OperationCanceledException)
            {
                // Disposed: the workload finished.
            }
        }
    }
}
