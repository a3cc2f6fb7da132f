using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Grains.Transactions;
using OrleansCompute.Grains.Transactions.Storage;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Transactions;

/// <summary>
/// A Store whose answer was lost in a cut between a silo and PostgreSQL can still arrive after the
/// cut heals (TCP retransmits what the silo had sent). A load must fence it off: once a participant
/// has read its row, no write sent before may change it, or the transaction queue decides on a
/// state the row no longer holds. That is how a transfer came to be applied on one side only
/// (docs/reliability.md, defect 11). Real PostgreSQL; the cut is a proxy that holds the bytes.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class TransactionalStorageFencingTests(SharedClusterFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private HoldingProxy _proxy = null!;
    private NpgsqlDataSource _cutSource = null!;
    private NpgsqlDataSource _directSource = null!;
    private TransactionalStateWriter _cut = null!;
    private TransactionalStateWriter _direct = null!;

    public Task InitializeAsync()
    {
        _proxy = HoldingProxy.ForPostgres(fixture.Cluster.ConnectionString);
        // The silo behind the cut gives up on its statement as a silo does (SiloApp's 5 s command timeout).
        _cutSource = _proxy.DataSource(fixture.Cluster.ConnectionString, commandTimeoutSeconds: 5);
        _directSource = NpgsqlDataSource.Create(fixture.Cluster.ConnectionString);
        _cut = Writer(_cutSource);
        _direct = Writer(_directSource);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _cut.DisposeAsync();
        await _direct.DisposeAsync();
        await _cutSource.DisposeAsync();
        await _directSource.DisposeAsync();
        await _proxy.DisposeAsync();
    }

    [Fact]
    public async Task A_store_answered_by_a_failure_cannot_land_after_a_load()
    {
        var grainId = $"fencing/{Guid.NewGuid():N}";
        var cutOff = Storage(_cut, grainId);
        var first = await cutOff.Load();
        var etag = await cutOff.Store(first.ETag, new TransactionalStateMetaData(), [Prepare(1, "before")], 1, null);

        _proxy.Hold();
        await Assert.ThrowsAnyAsync<Exception>(() => cutOff.Store(etag, new TransactionalStateMetaData(), [Prepare(2, "lost")], 2, null));

        // The participant reloads (here, as its next activation would, on a silo the cut spared).
        var reloaded = Storage(_direct, grainId);
        var loaded = await reloaded.Load();
        Assert.Equal("before", Value(loaded.CommittedState));

        // The cut heals: the lost Store reaches PostgreSQL and is answered, to no one.
        await _proxy.ReleaseAsync();
        await _proxy.DeliveredLate.WaitAsync(Deadline);

        Assert.Equal("before", Value((await Storage(_direct, grainId).Load()).CommittedState));
    }

    [Fact]
    public async Task The_first_store_of_a_participant_cannot_land_after_a_load_found_no_state()
    {
        var grainId = $"fencing/{Guid.NewGuid():N}";
        var cutOff = Storage(_cut, grainId);
        var first = await cutOff.Load();

        _proxy.Hold();
        await Assert.ThrowsAnyAsync<Exception>(() => cutOff.Store(first.ETag, new TransactionalStateMetaData(), [Prepare(1, "lost")], 1, null));

        var reloaded = Storage(_direct, grainId);
        var loaded = await reloaded.Load();
        Assert.Null(loaded.CommittedState.Value);

        await _proxy.ReleaseAsync();
        await _proxy.DeliveredLate.WaitAsync(Deadline);

        // The reload's view still holds: its own write lands on the ETag it read.
        await reloaded.Store(loaded.ETag, new TransactionalStateMetaData(), [Prepare(1, "after")], 1, null);
        Assert.Equal("after", Value((await Storage(_direct, grainId).Load()).CommittedState));
    }

    [Fact]
    public async Task Loads_that_gather_behind_one_in_flight_share_a_statement_and_fence_every_store_before_them()
    {
        var grainId = $"fencing/{Guid.NewGuid():N}";
        var participant = Storage(_cut, grainId);
        var first = await participant.Load();
        var etag = await participant.Store(first.ETag, new TransactionalStateMetaData(), [Prepare(1, "stored")], 1, null);

        // One load in flight (its statement held), and the loads that arrive meanwhile gather
        // into the next batch: five of them of the same row, which one statement can upsert only once.
        _proxy.Hold();
        var inFlight = _cut.LoadAsync($"fencing/{Guid.NewGuid():N}", "key");
        await _proxy.HoldsBytes.WaitAsync(Deadline);
        var gathered = Enumerable.Range(0, 5).Select(_ => Storage(_cut, grainId)).ToList();
        var loads = gathered.Select(s => s.Load()).ToList();
        var other = _cut.LoadAsync($"fencing/{Guid.NewGuid():N}", "key");
        await _proxy.ReleaseAsync();
        await inFlight.WaitAsync(Deadline);
        await other.WaitAsync(Deadline);
        var loaded = await Task.WhenAll(loads).WaitAsync(Deadline);

        Assert.Single(loaded.Select(l => l.ETag).Distinct());
        Assert.All(loaded, l => Assert.Equal("stored", Value(l.CommittedState)));
        // The batch fenced the Store the participant could still send; of the loaders, the first to store wins.
        await Assert.ThrowsAsync<Orleans.Storage.InconsistentStateException>(() =>
            participant.Store(etag, new TransactionalStateMetaData(), [Prepare(2, "stale")], 2, null));
        await gathered[0].Store(loaded[0].ETag, new TransactionalStateMetaData(), [Prepare(2, "first")], 2, null);
        await Assert.ThrowsAsync<Orleans.Storage.InconsistentStateException>(() =>
            gathered[1].Store(loaded[1].ETag, new TransactionalStateMetaData(), [Prepare(2, "second")], 2, null));
        Assert.Equal("first", Value((await Storage(_direct, grainId).Load()).CommittedState));
    }

    private TransactionalStateWriter Writer(NpgsqlDataSource dataSource)
    {
        var services = fixture.Cluster.Silos[0].Services;
        return new TransactionalStateWriter(
            dataSource, services.GetRequiredService<IOptions<ClusterOptions>>(), services.GetRequiredService<IGrainFactory>(),
            NullLogger<TransactionalStateWriter>.Instance);
    }

    private PostgresTransactionalStateStorage<TransactionalKeyGrain.State> Storage(TransactionalStateWriter writer, string grainId) =>
        new(grainId, "key", writer, fixture.Cluster.Silos[0].Services.GetRequiredService<Serializer>());

    private static PendingTransactionState<TransactionalKeyGrain.State> Prepare(long sequenceId, string value) => new()
    {
        SequenceId = sequenceId,
        TransactionId = Guid.NewGuid().ToString(),
        TimeStamp = DateTime.UtcNow,
        State = new TransactionalKeyGrain.State { Value = Encoding.UTF8.GetBytes(value), Version = sequenceId },
    };

    private static string? Value(TransactionalKeyGrain.State state) => state.Value is null ? null : Encoding.UTF8.GetString(state.Value);
}
