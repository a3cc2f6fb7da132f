using System.Net;
using Orleans.Configuration;

namespace OrleansCompute.Api.Cluster;

/// <summary>
/// Owns the Api's Orleans client. The client lives in a host of its own that connects in the
/// background, retrying for as long as it takes, so the Api starts, serves health and answers
/// 503 while no silo is up, rather than blocking its own start on the cluster.
/// </summary>
public sealed partial class ClusterClientHost : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly IHost _host;
    private readonly ILogger<ClusterClientHost> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task _connecting = Task.CompletedTask;
    private int _failedAttempts;
    private int _stopped;

    public ClusterClientHost(IConfiguration configuration, ILoggerFactory loggerFactory, ClusterConnection connection, OrleansCompute.Deadlines.StoreClock storeClock)
    {
        _logger = loggerFactory.CreateLogger<ClusterClientHost>();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton<IClusterConnectionStatusObserver>(connection);
        // The Api's mapping of the store's clock (ClusterProbe keeps it), for RequestDeadlineBudgetFilter.
        builder.Services.AddSingleton(storeClock);
        builder.UseOrleansClient(client => Configure(client, configuration));
        _host = builder.Build();
        Client = _host.Services.GetRequiredService<IClusterClient>();
    }

    /// <summary>The client; usable once connected, and failing fast with Orleans' own errors before.</summary>
    public IClusterClient Client { get; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _connecting = ConnectAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    // Idempotent: the host stops it, and disposal (which may come first when a host is torn down) stops it too.
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync();
        await _connecting;
        await _host.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _stopping.Dispose();
        if (_host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            _host.Dispose();
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _host.StartAsync(cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped before the cluster was ever reached: the retry filter gave up on purpose.
        }
    }

    private void Configure(IClientBuilder client, IConfiguration configuration)
    {
        client.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = configuration["Orleans:ClusterId"] ?? "dev";
            o.ServiceId = configuration["Orleans:ServiceId"] ?? "orleans-compute";
        });
        // Follow silos as they come and go: the default refresh is a minute. The refresh is also
        // how the Api learns that a paused or cut-off silo was declared dead (its connection stays
        // open): it then closes that gateway's connection, and GatewayLossFilter ends the calls in
        // flight, which the silo would never answer, instead of their waiting out the answer bound.
        // One read of the membership table a second.
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
        client.AddActivityPropagation();
        // A database exception a silo could not turn into StoreUnavailableException (one from a
        // grain's activation) is read as itself, not as a codec failure (ProblemExceptionHandler).
        client.Services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("Npgsql"));
        // Every grain call carries what is left of its request's deadline (docs/reliability.md).
        client.AddOutgoingGrainCallFilter<RequestDeadlineBudgetFilter>();
        // No call waits past the answer bound, whatever it was called with: Orleans' default is
        // 30 s, and a call to a paused silo waited that long. Methods that wait on purpose (a
        // lock acquire's waitSeconds) name their own [ResponseTimeout].
        var deadlines = configuration.GetSection("Requests").Get<RequestDeadlineOptions>() ?? new RequestDeadlineOptions();
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = deadlines.AnswerBound);

        var postgres = configuration.GetConnectionString("Postgres");
        if (!string.IsNullOrWhiteSpace(postgres))
        {
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = postgres;
            });
        }
        else
        {
            client.UseStaticClustering(ParseGateways(configuration["Orleans:Gateways"] ?? "127.0.0.1:30000"));
        }

        // Retry until connected or until this Api stops; the stop token is ours, so a stop never
        // waits on Orleans to notice it.
        client.UseConnectionRetryFilter(async (exception, cancellationToken) =>
        {
            // Once every 30 attempts: while no silo is up this fires every second.
            if (_failedAttempts++ % 30 == 0)
            {
                LogConnectFailed(exception.GetType().Name, exception.Message);
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
            try
            {
                await Task.Delay(RetryDelay, wait.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            return !_stopping.IsCancellationRequested;
        });
    }

    internal static IPEndPoint[] ParseGateways(string value)
    {
        var endpoints = value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(entry => IPEndPoint.TryParse(entry, out var endpoint) && endpoint.Port != 0
                ? endpoint
                : throw new InvalidOperationException($"Orleans:Gateways entry '{entry}' is not host:port with a numeric IP."))
            .ToArray();
        return endpoints.Length > 0
            ? endpoints
            : throw new InvalidOperationException("Orleans:Gateways lists no gateway.");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster not reachable yet ({Error}: {Message}); retrying")]
    private partial void LogConnectFailed(string error, string message);
}
