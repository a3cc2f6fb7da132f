using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Storage;

/// <summary>The Orleans ADO.NET reminder provider against the project's PostgreSQL schema.</summary>
[Collection(SharedClusterCollection.Name)]
public class PostgresReminderTableTests(SharedClusterFixture fixture) : ReminderTableContract
{
    protected override IReminderTable Table => fixture.Cluster.Silos[0].Services.GetRequiredService<IReminderTable>();
}

/// <summary>The same provider against the embedded SQLite store, where schedules must survive restarts too.</summary>
public class SqliteReminderTableTests : ReminderTableContract, IAsyncLifetime
{
    private InProcessSilo? _silo;

    protected override IReminderTable Table => _silo!.Services.GetRequiredService<IReminderTable>();

    public async Task InitializeAsync()
    {
        var port = Ports.Free();
        _silo = await InProcessSilo.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "",
            ["Storage:Path"] = Directory.CreateTempSubdirectory("oc-reminders-").FullName,
            ["Orleans:ClusterId"] = $"reminders-{Guid.NewGuid():N}",
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

/// <summary>What the reminder provider must do against either store.</summary>
public abstract class ReminderTableContract
{
    protected abstract IReminderTable Table { get; }

    private static ReminderEntry Entry(GrainId grain, string name, TimeSpan period) => new()
    {
        GrainId = grain,
        ReminderName = name,
        StartAt = new DateTime(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc),
        Period = period,
    };

    [Fact]
    public async Task Upsert_read_and_conditional_remove()
    {
        var grain = GrainId.Create("test-reminders", Guid.NewGuid().ToString("N"));
        var etag = await Table.UpsertRow(Entry(grain, "tick", TimeSpan.FromMinutes(1)));
        var updatedEtag = await Table.UpsertRow(Entry(grain, "tick", TimeSpan.FromDays(30)));

        var read = await Table.ReadRow(grain, "tick");
        Assert.NotEqual(etag, updatedEtag);
        Assert.NotNull(read);
        Assert.Equal((TimeSpan.FromDays(30), updatedEtag), (read.Period, read.ETag));
        Assert.Equal(new DateTime(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc), read.StartAt);

        Assert.False(await Table.RemoveRow(grain, "tick", etag!));
        Assert.True(await Table.RemoveRow(grain, "tick", updatedEtag!));
        Assert.Empty((await Table.ReadRows(grain)).Reminders);
    }

    [Fact]
    public async Task Hash_ranges_cover_the_ring_including_the_wrap_around()
    {
        var grains = Enumerable.Range(0, 40).Select(_ => GrainId.Create("test-ring", Guid.NewGuid().ToString("N"))).ToList();
        await Task.WhenAll(grains.Select(g => Table.UpsertRow(Entry(g, "ring", TimeSpan.FromMinutes(5)))));
        const uint a = 0x4000_0000, b = 0xC000_0000;

        var inside = await Table.ReadRows(a, b);   // (a, b], no wrap
        var outside = await Table.ReadRows(b, a);  // (b, max] ∪ [0, a], wraps

        var ours = grains.ToHashSet();
        var seen = inside.Reminders.Concat(outside.Reminders).Where(r => ours.Contains(r.GrainId)).ToList();
        Assert.Equal(grains.Count, seen.Count);
        Assert.All(inside.Reminders.Where(r => ours.Contains(r.GrainId)), r =>
        {
            var hash = r.GrainId.GetUniformHashCode();
            Assert.True(hash > a && hash <= b);
        });
    }
}
