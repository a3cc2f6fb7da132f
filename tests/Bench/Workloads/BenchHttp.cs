using System.Net;
using System.Net.Http.Headers;

namespace OrleansCompute.Bench.Workloads;

/// <summary>The one way the harness talks HTTP, identical for every target so that ratios compare like with like.</summary>
public static class BenchHttp
{
    /// <summary>
    /// A client over a pooled HTTP/1.1 handler with exactly <paramref name="concurrency"/>
    /// connections: no proxy, cookies, redirects or decompression on the measured path.
    /// </summary>
    public static HttpClient CreateClient(Uri baseAddress, int concurrency, string? bearerToken = null)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        var client = new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = baseAddress,
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
        if (bearerToken is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        }

        return client;
    }

    /// <summary>Sends the request, reads the whole answer (so the connection goes back to the pool) and returns the status.</summary>
    public static async ValueTask<int> SendAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return (int)response.StatusCode;
        }
    }

    public static ValueTask<int> GetAsync(HttpClient client, Uri uri, CancellationToken cancellationToken) =>
        SendAsync(client, new HttpRequestMessage(HttpMethod.Get, uri), cancellationToken);

    public static ValueTask<int> SendJsonAsync(HttpClient client, HttpMethod method, Uri uri, byte[] json, CancellationToken cancellationToken) =>
        SendAsync(client, new HttpRequestMessage(method, uri) { Content = Json(json) }, cancellationToken);

    public static ByteArrayContent Json(byte[] json)
    {
        var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>For setup errors: the status and the start of the body (a problem's title and detail).</summary>
    public static async Task<string> DescribeFailureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        body = body.ReplaceLineEndings(" ").Trim();
        if (body.Length > 300)
        {
            body = body[..300] + "...";
        }

        var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        return body.Length == 0 ? status : $"{status}: {body}";
    }

    /// <summary>Drops a table a target created, then disposes its client; a failure is logged, never thrown (the run's figures stand).</summary>
    public static async Task DropTableAndDisposeAsync(HttpClient client, Uri tableUri, string table, TextWriter log, string target)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            using var response = await client.DeleteAsync(tableUri, timeout.Token);
            log.WriteLine(response.IsSuccessStatusCode
                ? $"{target}: dropped table {table}"
                : $"{target}: could not drop table {table}: {await DescribeFailureAsync(response, CancellationToken.None)}");
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            log.WriteLine($"{target}: could not drop table {table}: {e.Message}");
        }
        finally
        {
            client.Dispose();
        }
    }
}
