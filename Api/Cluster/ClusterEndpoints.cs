using Microsoft.AspNetCore.Http.HttpResults;
using Orleans.Runtime;
using OrleansCompute.Api.Security;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Cluster;

/// <summary><c>GET /v1/cluster</c>: the silos as the membership sees them.</summary>
public static class ClusterEndpoints
{
    // A silo that just died may still be listed as active; its statistics must not hold up the answer.
    private static readonly TimeSpan StatisticsTimeout = TimeSpan.FromSeconds(2);

    public static RouteGroupBuilder MapClusterEndpoints(this RouteGroupBuilder v1)
    {
        v1.MapGet("/cluster", GetClusterAsync)
            .WithTags("Cluster")
            .AddEndpointFilter<GatewayLossFilter>()
            .RequireScope(Scopes.Admin)
            .WithSummary("The silos of the cluster with their status, activation counts, and the shards each hosts and is moving.");
        return v1;
    }

    public static async Task<Ok<ClusterResponse>> GetClusterAsync(
        IGrainFactory grains, ClusterConnection connection, CancellationToken cancellationToken)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        var members = await management.GetDetailedHosts(onlyActive: false).WaitAsync(cancellationToken);
        var silos = await Task.WhenAll(members
            .OrderBy(m => m.SiloName, StringComparer.Ordinal)
            .ThenBy(m => m.StartTime)
            .Select(async member =>
            {
                var active = member.Status == SiloStatus.Active;
                var activations = active ? ActivationsAsync(management, member.SiloAddress, cancellationToken) : Task.FromResult<int?>(null);
                var shards = active ? ShardsAsync(grains, member.SiloAddress, cancellationToken) : Task.FromResult<ShardHostInfo?>(null);
                return new SiloResponse(
                    Address: member.SiloAddress.ToParsableString(),
                    Name: member.SiloName,
                    Status: member.Status.ToString(),
                    Region: null,
                    HostName: member.HostName,
                    StartedAt: member.StartTime,
                    LastHeartbeat: member.IAmAliveTime,
                    Activations: await activations,
                    Shards: (await shards)?.Shards,
                    ShardMovesInFlight: (await shards)?.MovesInFlight,
                    ShardMovesCompleted: (await shards)?.MovesCompleted);
            }));
        return TypedResults.Ok(new ClusterResponse(silos, new ApiResponse(Environment.MachineName, connection.IsConnected, connection.Gateways)));
    }

    private static async Task<int?> ActivationsAsync(IManagementGrain management, SiloAddress silo, CancellationToken cancellationToken)
    {
        try
        {
            var statistics = await management.GetRuntimeStatistics([silo]).WaitAsync(StatisticsTimeout, cancellationToken);
            return statistics.FirstOrDefault()?.ActivationCount;
        }
        catch (Exception ex) when (ex is TimeoutException || Errors.ClusterFaults.IsUnavailable(ex))
        {
            return null;
        }
    }

    private static async Task<ShardHostInfo?> ShardsAsync(IGrainFactory grains, SiloAddress silo, CancellationToken cancellationToken)
    {
        var address = silo.ToParsableString();
        try
        {
            var info = await grains.GetGrain<IShardHostGrain>(address).DescribeAsync(cancellationToken).WaitAsync(StatisticsTimeout, cancellationToken);
            // A silo that is gone is answered for by another, which the answer names: not this silo's figures.
            return info.Silo == address ? info : null;
        }
        catch (Exception ex) when (ex is TimeoutException || Errors.ClusterFaults.IsUnavailable(ex))
        {
            return null;
        }
    }
}

/// <summary>The cluster as this Api instance sees it.</summary>
public sealed record ClusterResponse(IReadOnlyList<SiloResponse> Silos, ApiResponse Api);

/// <summary>
/// One silo of the membership. <see cref="Activations"/>, <see cref="Shards"/> (shard activations
/// hosted), <see cref="ShardMovesInFlight"/> and <see cref="ShardMovesCompleted"/> (handovers this silo
/// started, since it started) are null when the silo is not active or did not answer in time.
/// </summary>
public sealed record SiloResponse(
    string Address, string Name, string Status, string? Region, string HostName,
    DateTime StartedAt, DateTime LastHeartbeat, int? Activations,
    int? Shards = null, int? ShardMovesInFlight = null, long? ShardMovesCompleted = null);

/// <summary>The Api instance that answered.</summary>
public sealed record ApiResponse(string Instance, bool Connected, int Gateways);
