namespace OrleansCompute.Api.Cluster;

/// <summary>
/// Whether this Api instance can reach the cluster right now. The Api answers /v1 calls with 503
/// at once while it cannot, instead of letting each request wait for a grain call to time out.
/// Orleans reports lost connections and gateway counts; <see cref="ClusterProbe"/> confirms both
/// directions by calling the cluster.
/// </summary>
public sealed class ClusterConnection : IClusterConnectionStatusObserver
{
    private volatile bool _connected;
    private CancellationTokenSource _gatewayLoss = new();

    public bool IsConnected => _connected;

    public int Gateways { get; private set; }

    /// <summary>Cancelled when a gateway is lost (or the whole cluster): calls in flight through it may never be answered.</summary>
    public CancellationToken GatewayLost => Volatile.Read(ref _gatewayLoss).Token;

    public void MarkConnected() => _connected = true;

    public void MarkDisconnected() => _connected = false;

    void IClusterConnectionStatusObserver.NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        Gateways = currentNumberOfGateways;
        if (currentNumberOfGateways == 0)
        {
            _connected = false;
        }

        if (currentNumberOfGateways < previousNumberOfGateways)
        {
            SignalGatewayLoss();
        }
    }

    void IClusterConnectionStatusObserver.NotifyClusterConnectionLost()
    {
        _connected = false;
        SignalGatewayLoss();
    }

    // Not disposed: a request may still be linking to the old token, and one is left per loss.
    private void SignalGatewayLoss() => Interlocked.Exchange(ref _gatewayLoss, new()).Cancel();
}
