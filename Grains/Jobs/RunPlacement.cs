using Orleans.Runtime;
using OrleansCompute.Data;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// Where one job's runs go, from the membership snapshot: round-robin over the active silos in
/// address order, and data tasks to the silo hosting the shard they read. One per job activation.
/// </summary>
public sealed class RunPlacement(IClusterMembershipService membership, ILocalSiloDetails localSilo, IGrainFactory grains)
{
    private readonly Dictionary<string, SiloAddress> _shardSilos = new(StringComparer.Ordinal);
    private List<SiloAddress> _activeSilos = [];
    private MembershipVersion? _activeSilosVersion;
    private int _next;

    /// <summary>The silo for a run of <paramref name="task"/>.</summary>
    public async Task<SiloAddress> SiloForAsync(PlannedTask task) => await DataSiloAsync(task) ?? NextSilo();

    /// <summary>A handover to the silo of a data task failed: ask its shard where it lives next time.</summary>
    public void Forget(PlannedTask task)
    {
        if ((task.Shard ?? task.TransactionalShard) is { } shard)
        {
            _shardSilos.Remove(shard);
        }
    }

    /// <summary>The silo is dead, or already cleaned out of the membership.</summary>
    public bool IsGone(string silo) =>
        !membership.CurrentSnapshot.Members.TryGetValue(SiloAddress.FromParsableString(silo), out var member) || member.Status == SiloStatus.Dead;

    private SiloAddress NextSilo()
    {
        // Sorted once per membership version, not once per task.
        var snapshot = membership.CurrentSnapshot;
        if (snapshot.Version != _activeSilosVersion)
        {
            _activeSilos = [.. snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).Order()];
            _activeSilosVersion = snapshot.Version;
        }

        return _activeSilos.Count == 0 ? localSilo.SiloAddress : _activeSilos[_next++ % _activeSilos.Count];
    }

    /// <summary>
    /// The silo hosting the shard a data task reads (a shard grain, or a transactional shard's index
    /// grain): where its data is, so its map reads locally. Null for other tasks.
    /// </summary>
    private async Task<SiloAddress?> DataSiloAsync(PlannedTask task)
    {
        if ((task.Shard ?? task.TransactionalShard) is not { } shard)
        {
            return null;
        }

        if (_shardSilos.TryGetValue(shard, out var known) &&
            membership.CurrentSnapshot.Members.TryGetValue(known, out var member) && member.Status == SiloStatus.Active)
        {
            return known;
        }

        var address = task.Shard is not null
            ? (await grains.GetGrain<IShardGrain>(shard).DescribeAsync()).Silo
            : await grains.GetGrain<ITransactionalKeyIndexGrain>(shard).SiloAsync();
        return _shardSilos[shard] = SiloAddress.FromParsableString(address);
    }
}
