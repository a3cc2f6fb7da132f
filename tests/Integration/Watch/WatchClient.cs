using System.Collections.Concurrent;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Watch;

/// <summary>One Server-Sent Event of a watch stream.</summary>
public sealed record WatchEvent(string Type, string? Id, JsonElement Data)
{
    public string Key => Data.GetProperty("key").GetString()!;

    public long Revision => Data.GetProperty("revision").GetInt64();

    public long Version => Data.GetProperty("version").GetInt64();

    public bool IsChange => Type is "put" or "delete";
}

/// <summary>
/// Reads a watch stream in the background into <see cref="Events"/>, until disposed or the stream
/// ends. <see cref="Status"/> is the answer's status; a non-200 answer's body is in <see cref="Problem"/>.
/// </summary>
public sealed class WatchReader : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<int> _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reading;

    private WatchReader(HttpClient http, string url, string? lastEventId)
    {
        _reading = ReadAsync(http, url, lastEventId);
    }

    public ConcurrentQueue<WatchEvent> Events { get; } = new();

    public JsonElement Problem { get; private set; }

    public bool Ended { get; private set; }

    /// <summary>The id of the last event received (the cursor to resume from).</summary>
    public string? LastId { get; private set; }

    public IReadOnlyList<WatchEvent> Changes => [.. Events.Where(e => e.IsChange)];

    /// <summary>Opens the stream and waits for its answer's status.</summary>
    public static async Task<(WatchReader Reader, int Status)> OpenAsync(HttpClient http, string url, string? lastEventId = null)
    {
        var reader = new WatchReader(http, url, lastEventId);
        var status = await reader._answered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return (reader, status);
    }

    /// <summary>
    /// Opens the stream as a client that honours 503: right after a silo died, a shard behind it
    /// cannot answer within the Api's bound, and the open says so with Retry-After instead of hanging.
    /// Any other answer is returned as it is.
    /// </summary>
    public static async Task<(WatchReader Reader, int Status)> OpenRetryingAsync(HttpClient http, string url, string? lastEventId, TimeSpan deadline)
    {
        (WatchReader Reader, int Status) opened = default;
        await Eventually.WaitAsync(async () =>
        {
            opened = await OpenAsync(http, url, lastEventId);
            if (opened.Status != 503)
            {
                return true;
            }

            await opened.Reader.DisposeAsync();
            return false;
        }, deadline, $"a watch on {url} that is not answered 503");
        return opened;
    }

    private async Task ReadAsync(HttpClient http, string url, string? lastEventId)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (lastEventId is not null)
            {
                request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
            }

            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            if (!response.IsSuccessStatusCode)
            {
                Problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(_stop.Token)).RootElement.Clone();
                _answered.TrySetResult((int)response.StatusCode);
                return;
            }

            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            _answered.TrySetResult((int)response.StatusCode);
            using var stream = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token));
            string? type = null, id = null, data = null;
            while (await stream.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data is not null)
                    {
                        var evt = new WatchEvent(type ?? "message", id, JsonDocument.Parse(data).RootElement.Clone());
                        if (id is not null)
                        {
                            LastId = id;
                        }

                        Events.Enqueue(evt);
                    }

                    (type, id, data) = (null, null, null);
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    type = line[7..];
                }
                else if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = data is null ? line[6..] : data + "\n" + line[6..];
                }
            }

            Ended = true;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
            Ended = true;
            _answered.TrySetResult(0);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _reading;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
