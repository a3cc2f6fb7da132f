using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansCompute.Grains;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Storage;

/// <summary>The Orleans ADO.NET grain-storage provider against the project's PostgreSQL schema.</summary>
[Collection(SharedClusterCollection.Name)]
public class PostgresGrainStorageTests(SharedClusterFixture fixture) : GrainStorageContract
{
    protected override IGrainStorage Storage => fixture.Cluster.Silos[0].Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Default);

    [Fact]
    public async Task Clear_deletes_the_row()
    {
        var grain = NewGrain();
        var state = new GrainState<Probe>(new Probe { Value = "x" });
        await Storage.WriteStateAsync("probe", grain, state);

        await Storage.ClearStateAsync("probe", grain, state);

        var rows = await TestDatabase.ScalarAsync<long>(
            fixture.Cluster.ConnectionString,
            "SELECT count(*) FROM oc_grain_state WHERE grain_id_key LIKE '%' || @key",
            ("key", grain.Key.ToString()!));
        Assert.Equal(0, rows);
    }

    [Fact]
    public async Task Grain_identity_is_the_primary_key_and_versions_are_64_bit()
    {
        var keyColumns = await TestDatabase.ScalarAsync<string>(fixture.Cluster.ConnectionString, """
            SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum))
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = 'oc_grain_state'::regclass AND i.indisprimary
            """);
        var versionType = await TestDatabase.ScalarAsync<string>(fixture.Cluster.ConnectionString,
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'oc_grain_state' AND column_name = 'version'");

        Assert.Equal("service_id,grain_type,grain_id_n0,grain_id_n1,grain_id_key", keyColumns);
        Assert.Equal("bigint", versionType);
    }
}

/// <summary>The same provider against the embedded SQLite store.</summary>
public class SqliteGrainStorageTests : GrainStorageContract, IAsyncLifetime
{
    private InProcessSilo? _silo;

    protected override IGrainStorage Storage => _silo!.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Default);

    public async Task InitializeAsync()
    {
        var port = Ports.Free();
        _silo = await InProcessSilo.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "",
            ["Storage:Path"] = Directory.CreateTempSubdirectory("oc-state-").FullName,
            ["Orleans:ClusterId"] = $"state-{Guid.NewGuid():N}",
            ["Orleans:PrimarySiloPort"] = port.ToString(),
        }, port);
    }

    public async Task DisposeAsync()
    {
        if (_silo is not null)
        {
            await _silo.DisposeAsync();
        }
    }
}

/// <summary>What the grain-storage provider must do against either store.</summary>
public abstract class GrainStorageContract
{
    protected abstract IGrainStorage Storage { get; }

    protected static GrainId NewGrain() => GrainId.Create("test-grain", Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Two_first_writes_of_one_grain_cannot_both_succeed()
    {
        var grain = NewGrain();
        var first = new GrainState<Probe>(new Probe { Value = "a" });
        var second = new GrainState<Probe>(new Probe { Value = "b" });

        var outcomes = await Task.WhenAll(
            Outcome(Storage.WriteStateAsync("probe", grain, first)),
            Outcome(Storage.WriteStateAsync("probe", grain, second)));

        Assert.Single(outcomes, o => o is null);
        Assert.Single(outcomes, o => o is InconsistentStateException);
        var read = new GrainState<Probe>();
        await Storage.ReadStateAsync("probe", grain, read);
        Assert.Equal("1", read.ETag);
    }

    [Fact]
    public async Task Versions_grow_and_a_stale_version_cannot_overwrite()
    {
        var grain = NewGrain();
        var state = new GrainState<Probe>(new Probe { Value = "v1" });
        await Storage.WriteStateAsync("probe", grain, state);
        var stale = new GrainState<Probe>(new Probe { Value = "stale" }) { ETag = state.ETag };
        state.State!.Value = "v2";
        await Storage.WriteStateAsync("probe", grain, state);

        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync("probe", grain, stale));

        var read = new GrainState<Probe>();
        await Storage.ReadStateAsync("probe", grain, read);
        Assert.Equal(("2", "v2", true), (read.ETag, read.State!.Value, read.RecordExists));
    }

    [Fact]
    public async Task Clear_removes_the_state_and_a_new_first_write_succeeds()
    {
        var grain = NewGrain();
        var state = new GrainState<Probe>(new Probe { Value = "x" });
        await Storage.WriteStateAsync("probe", grain, state);

        await Storage.ClearStateAsync("probe", grain, state);

        var read = new GrainState<Probe>();
        await Storage.ReadStateAsync("probe", grain, read);
        Assert.False(read.RecordExists);
        // With no row left, a write that has never read (no version) is a first write again.
        await Storage.WriteStateAsync("probe", grain, new GrainState<Probe>(new Probe { Value = "again" }));
        await Storage.ReadStateAsync("probe", grain, read);
        Assert.Equal(("1", "again"), (read.ETag, read.State!.Value));
    }

    private static async Task<Exception?> Outcome(Task write)
    {
        try
        {
            await write;
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    [GenerateSerializer]
    public sealed class Probe
    {
        [Id(0)] public string Value { get; set; } = "";
    }
}
