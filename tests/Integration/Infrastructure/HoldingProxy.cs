using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on loopback that can hold what its clients send and deliver it later, as a network
/// cut does to TCP: the sender's kernel keeps retransmitting the bytes it accepted, also after the
/// sender gave up and closed the socket, and they arrive when the cut heals. While held, new
/// connections are closed at once (a real cut would let them time out: this only makes the client
/// give up sooner); on release, the held bytes of the open ones are delivered.
/// </summary>
public sealed class HoldingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Pair> _pairs = [];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _deliveredLate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _holdsBytes = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _holding;

    public HoldingProxy(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>A proxy in front of the PostgreSQL server <paramref name="connectionString"/> names.</summary>
    public static HoldingProxy ForPostgres(string connectionString)
    {
        var target = new NpgsqlConnectionStringBuilder(connectionString);
        return new HoldingProxy(new IPEndPoint(IPAddress.Parse(target.Host!), target.Port));
    }

    /// <summary>
    /// Connections to that server through this proxy, for a client behind the cut, giving up on a
    /// statement after <paramref name="commandTimeoutSeconds"/> (a silo's is 5 s).
    /// </summary>
    public NpgsqlDataSource DataSource(string connectionString, int commandTimeoutSeconds) =>
        NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString)
        {
            Host = "127.0.0.1", Port = Port, CommandTimeout = commandTimeoutSeconds,
        }.ConnectionString);

    /// <summary>
    /// Completes when the target closed a connection whose client had gone, after the bytes held
    /// for it were delivered: the target then read everything that client ever sent.
    /// </summary>
    public Task DeliveredLate => _deliveredLate.Task;

    /// <summary>Completes when a client's bytes were first held: what it sent is then in flight, unanswered.</summary>
    public Task HoldsBytes => _holdsBytes.Task;

    public void Hold()
    {
        lock (_gate)
        {
            _holding = true;
        }
    }

    public async Task ReleaseAsync()
    {
        List<Pair> pairs;
        lock (_gate)
        {
            _holding = false;
            pairs = [.. _pairs];
        }

        foreach (var pair in pairs)
        {
            await pair.DeliverHeldAsync();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            lock (_gate)
            {
                if (_holding)
                {
                    client.Dispose();
                    continue;
                }
            }

            var upstream = new TcpClient();
            await upstream.ConnectAsync(_target, _stop.Token);
            var pair = new Pair(this, client, upstream);
            lock (_gate)
            {
                _pairs.Add(pair);
            }

            pair.Start();
        }
    }

    private bool Holding
    {
        get
        {
            lock (_gate)
            {
                return _holding;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_gate)
        {
            foreach (var pair in _pairs)
            {
                pair.Dispose();
            }
        }
    }

    private sealed class Pair(HoldingProxy proxy, TcpClient client, TcpClient upstream) : IDisposable
    {
        // Taken once: a stream cannot be asked of a socket again after it shut down one way.
        private readonly NetworkStream _fromClient = client.GetStream();
        private readonly NetworkStream _toTarget = upstream.GetStream();
        private readonly MemoryStream _held = new();
        private readonly SemaphoreSlim _send = new(1, 1);
        private volatile bool _released;
        private bool _clientGone;

        public void Start()
        {
            _ = PumpUpAsync();
            _ = PumpDownAsync();
        }

        // Client to target: what arrives while the proxy holds is kept, not sent.
        private async Task PumpUpAsync()
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await _fromClient.ReadAsync(buffer, proxy._stop.Token)) > 0)
                {
                    await _send.WaitAsync(proxy._stop.Token);
                    try
                    {
                        if (proxy.Holding)
                        {
                            _held.Write(buffer, 0, read);
                            proxy._holdsBytes.TrySetResult();
                        }
                        else
                        {
                            await _toTarget.WriteAsync(buffer.AsMemory(0, read), proxy._stop.Token);
                        }
                    }
                    finally
                    {
                        _send.Release();
                    }
                }
            }
            catch (Exception) when (proxy._stop.IsCancellationRequested)
            {
                return;
            }
            catch (IOException)
            {
                // The client gave up and reset the connection: what it sent before is still held.
            }

            await _send.WaitAsync(proxy._stop.Token);
            try
            {
                // Its kernel would send the end of the stream after the bytes it holds.
                _clientGone = true;
                EndUpstreamOnceDelivered();
            }
            finally
            {
                _send.Release();
            }
        }

        private void EndUpstreamOnceDelivered()
        {
            if (_clientGone && _held.Length == 0)
            {
                upstream.Client.Shutdown(SocketShutdown.Send);
            }
        }

        public async Task DeliverHeldAsync()
        {
            await _send.WaitAsync(proxy._stop.Token);
            try
            {
                if (_held.Length > 0)
                {
                    _released = true;
                    await _toTarget.WriteAsync(_held.ToArray(), proxy._stop.Token);
                    _held.SetLength(0);
                    EndUpstreamOnceDelivered();
                }
            }
            finally
            {
                _send.Release();
            }
        }

        // Target to client: the client may be gone; what the target answers late is still seen.
        private async Task PumpDownAsync()
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await _toTarget.ReadAsync(buffer, proxy._stop.Token)) > 0)
                {
                    try
                    {
                        await _fromClient.WriteAsync(buffer.AsMemory(0, read), proxy._stop.Token);
                    }
                    catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
                    {
                        // The client closed: nobody hears the answer, as after a real cut.
                    }
                }

                if (_released)
                {
                    proxy._deliveredLate.TrySetResult();
                }
            }
            catch (Exception) when (proxy._stop.IsCancellationRequested)
            {
            }
            catch (IOException)
            {
            }
        }

        public void Dispose()
        {
            client.Dispose();
            upstream.Dispose();
        }
    }
}
