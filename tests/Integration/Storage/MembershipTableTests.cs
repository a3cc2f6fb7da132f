using Microsoft.Extensions.DependencyInjection;
using Orleans;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Storage;

/// <summary>The Orleans ADO.NET clustering provider against the project's PostgreSQL schema.</summary>
[Collection(SharedClusterCollection.Name)]
public class MembershipTableTests(SharedClusterFixture fixture)
{
    [Fact]
    public async Task Defunct_silo_rows_are_cleaned_up_and_active_ones_kept()
    {
        var cluster = fixture.Cluster;
        var port = Ports.Free();
        await TestDatabase.ExecuteAsync(cluster.ConnectionString, """
            INSERT INTO oc_membership (deployment_id, address, port, generation, silo_name, host_name, status,
                                       proxy_port, start_time, i_am_alive_time)
            VALUES (@cluster, '127.0.0.1', @port, 1, 'long-dead', 'gone', 6, 0, now() - interval '9 days', now() - interval '8 days')
            """, ("cluster", cluster.ClusterId), ("port", port));
        var table = cluster.Silos[0].Services.GetRequiredService<IMembershipTable>();

        await table.CleanupDefunctSiloEntriesAsync(DateTimeOffset.UtcNow - TimeSpan.FromDays(7));

        Assert.Equal(0, await TestDatabase.ScalarAsync<long>(cluster.ConnectionString,
            "SELECT count(*) FROM oc_membership WHERE deployment_id = @cluster AND port = @port", ("cluster", cluster.ClusterId), ("port", port)));
        Assert.Equal(cluster.Silos.Count, await TestDatabase.ScalarAsync<long>(cluster.ConnectionString,
            "SELECT count(*) FROM oc_membership WHERE deployment_id = @cluster AND status = 3", ("cluster", cluster.ClusterId)));
    }

    [Fact]
    public async Task Membership_reads_every_silo_with_one_table_version()
    {
        var table = fixture.Cluster.Silos[0].Services.GetRequiredService<IMembershipTable>();

        var data = await table.ReadAllAsync();

        Assert.True(data.Version.Version > 0);
        Assert.Equal(
            fixture.Cluster.Silos.Select(s => s.SiloPort).Order(),
            data.Members.Where(m => m.Item1.Status == SiloStatus.Active).Select(m => m.Item1.SiloAddress.Endpoint.Port).Order());
    }
}
