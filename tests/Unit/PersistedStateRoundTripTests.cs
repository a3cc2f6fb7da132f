using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Newtonsoft.Json;
using Orleans.Storage;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data;

namespace OrleansCompute.Tests.Unit;

/// <summary>
/// Grain state read back through the grain storage serializer the silo really uses (Orleans'
/// JSON one, with its type allow-list). It writes an interface-typed collection with the runtime
/// type's name, and refuses to read the types the compiler makes for collection expressions, so a
/// state holding one is written and then cannot be loaded: its grain never activates again.
/// </summary>
public class PersistedStateRoundTripTests
{
    private static readonly IGrainStorageSerializer Storage = SiloStorageSerializer();

    [Fact]
    public void A_table_in_the_middle_of_a_reshard_reads_back_with_its_moved_shards()
    {
        var resharding = new Resharding(32, Guid.NewGuid(), [], DateTimeOffset.UnixEpoch, "silo-a")
            .WithMoved(3, "silo-a")
            .WithMoved(7, "silo-b");
        var table = new TableInfo("orders", Transactional: false, Shards: 16, DateTimeOffset.UnixEpoch, Guid.NewGuid(),
            Resharding: resharding, Retired: new List<RetiredLayout> { new(Guid.NewGuid(), 8) });

        var back = RoundTrip(new TableGrain.State { Table = table });

        Assert.Equal([3, 7], back.Table!.Resharding!.Moved);
        Assert.Equal("silo-b", back.Table.Resharding.Coordinator);
        Assert.Equal(table.Retired, back.Table.Retired);
    }

    [Fact]
    public void A_collection_expression_in_state_is_written_but_cannot_be_read_back()
    {
        // Why WithMoved writes an array: the trap it avoids, as Orleans 10 has it.
        var table = new TableInfo("orders", false, 16, DateTimeOffset.UnixEpoch, Guid.NewGuid(),
            Resharding: new Resharding(32, Guid.NewGuid(), [3, 7], DateTimeOffset.UnixEpoch));

        var written = Storage.Serialize(new TableGrain.State { Table = table });

        Assert.Contains("z__ReadOnlyArray", written.ToString(), StringComparison.Ordinal);
        Assert.Throws<JsonSerializationException>(() => Storage.Deserialize<TableGrain.State>(written));
    }

    private static T RoundTrip<T>(T state) => Storage.Deserialize<T>(Storage.Serialize(state)) ?? throw new InvalidOperationException("read back null");

    // The silo's services, built and never started: the serializer AdoNet grain storage resolves by default.
    private static IGrainStorageSerializer SiloStorageSerializer()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo => silo.UseLocalhostClustering());
        return builder.Build().Services.GetRequiredService<IGrainStorageSerializer>();
    }
}
