using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tenancy;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Data;

/// <summary>
/// Owns one table's spec. The state row is written before the catalog is told, so a table listed
/// by the catalog always has its spec; a crash in between is repaired by the next create, which
/// re-registers an identical table.
/// A drop first fences the table's shards in the store (no shard commits to it again, however
/// stale), then forgets the spec; its rows are purged in the background, so dropping a table of
/// any size answers at once.
///
/// A reshard moves the keys to a new layout (a new layout id and shard count), one current shard
/// at a time: the shard seals itself and copies its keys into the new shards that hold them, and
/// only then does this grain record it as moved, so from that moment the Api routes its keys to
/// the new layout. A callers' view is never ahead of the stored spec: <see cref="DescribeAsync"/>
/// answers only what has been written. The reshard survives this grain's silo dying: the spec
/// names it, activation resumes it, and a reminder activates the grain until it is done.
///
/// Reentrant so that describes (every Api request for the table's keys) are answered while a
/// reshard waits on its shards; every change of the spec goes through one lock.
/// </summary>
[Reentrant]
public sealed partial class TableGrain(
    [PersistentState("table", StorageNames.Default)] IPersistentState<TableGrain.State> state,
    IKeyValueStore store,
    ValueProtector protector,
    ILocalSiloDetails silo,
    [FromKeyedServices(KeyValueOptions.ClockKey)] TimeProvider clock,
    ILogger<TableGrain> logger) : Grain, ITableGrain, IRemindable
{
    private const string ReshardReminder = "reshard";

    // Current shards handed over at once: each one's keys wait (answer Moved) while it copies.
    private const int HandOversInFlight = 4;

    // Retired layouts a table remembers for watch cursors; older cursors are past any retention anyway in practice.
    private const int RetiredLayoutsKept = 8;

    private readonly SemaphoreSlim _changes = new(1, 1);
    private TableInfo? _durable;
    private Task? _resharding;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _durable = state.State.Table;
        ResumeResharding();
        return Task.CompletedTask;
    }

    public async Task<TableCreateResult> CreateAsync(TableSpec spec, CancellationToken cancellationToken = default)
    {
        var (tenant, name) = TenantKey.Parse(this.GetPrimaryKeyString());
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (_durable is { } existing)
            {
                var identical = existing.Transactional == spec.Transactional && Target(existing) == spec.Shards && existing.Encrypted == spec.Encrypted;
                if (identical)
                {
                    await Catalog(tenant).AddAsync(name, cancellationToken);
                }

                return new(identical ? TableCreateOutcome.Identical : TableCreateOutcome.Conflict, existing);
            }

            var table = new TableInfo(name, spec.Transactional, spec.Shards, clock.GetUtcNow(), Guid.NewGuid(), spec.Encrypted);
            if (spec.Encrypted && !protector.IsConfigured)
            {
                return new(TableCreateOutcome.EncryptionNotConfigured, table);
            }

            await WriteAsync(table, cancellationToken);
            await Catalog(tenant).AddAsync(name, cancellationToken);
            return new(TableCreateOutcome.Created, table);
        }
        finally
        {
            _changes.Release();
        }
    }

    public Task<TableInfo?> DescribeAsync(CancellationToken cancellationToken = default) => Task.FromResult(_durable);

    public async Task<ReshardResult> ReshardAsync(int shards, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shards, TableSpec.MaxShards);
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (_durable is not { } table)
            {
                return new(ReshardOutcome.NotFound, null);
            }

            var outcome = table switch
            {
                { Resharding: not null } => ReshardOutcome.InProgress,
                { Transactional: true } => ReshardOutcome.Transactional,
                _ when table.Shards == shards => ReshardOutcome.Unchanged,
                _ when shards % table.Shards != 0 && table.Shards % shards != 0 => ReshardOutcome.NotAFactor,
                _ => ReshardOutcome.Started,
            };
            if (outcome != ReshardOutcome.Started)
            {
                return new(outcome, table);
            }

            var started = table with { Resharding = new Resharding(shards, Guid.NewGuid(), [], clock.GetUtcNow(), silo.SiloAddress.ToParsableString()) };
            // The reminder first: if this silo dies right after the write, the reminder wakes the grain elsewhere.
            await this.RegisterOrUpdateReminder(ReshardReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
            await WriteAsync(started, cancellationToken);
            ResumeResharding();
            return new(ReshardOutcome.Started, started);
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<bool> DropAsync(CancellationToken cancellationToken = default)
    {
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (_durable is not { } table)
            {
                return false;
            }

            var (tenant, name) = TenantKey.Parse(this.GetPrimaryKeyString());
            await store.MarkDroppedAsync(table.Id, table.Shards, cancellationToken);
            if (table.Resharding is { } resharding)
            {
                await store.MarkDroppedAsync(resharding.ToId, resharding.To, cancellationToken);
            }

            // Active shards drop their memory now; inactive ones learn it from the store if ever activated.
            await Task.WhenAll(ShardMap.ShardKeysOf(tenant, table).Select(key =>
                GrainFactory.GetGrain<IShardGrain>(key).DropAsync(cancellationToken)));
            if (table.Transactional)
            {
                // Their watch feeds read the drop from the shard rows just marked; this only wakes
                // their long polls now. One-way, so it completes once sent: a lost call costs the
                // streams a second (the feed's next look), never the drop.
                await Task.WhenAll(Enumerable.Range(0, table.Shards).Select(shard =>
                    GrainFactory.GetGrain<ITxnChangeFeedGrain>(TxnKeys.IndexGrain(tenant, table.Id, shard)).DroppedAsync()));
            }
            await Catalog(tenant).RemoveAsync(name, cancellationToken);
            await state.ClearStateAsync(cancellationToken);
            _durable = null;
            DeactivateOnIdle();
            return true;
        }
        finally
        {
            _changes.Release();
        }
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        ResumeResharding();
        return _durable?.Resharding is null ? ForgetReminderAsync() : Task.CompletedTask;
    }

    private async Task ForgetReminderAsync()
    {
        if (await this.GetReminder(ReshardReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private void ResumeResharding()
    {
        if (_durable?.Resharding is not null && _resharding is not { IsCompleted: false })
        {
            _resharding = ReshardLoopAsync();
        }
    }

    // Runs on the grain's scheduler; every spec change it makes goes through the lock.
    private async Task ReshardLoopAsync()
    {
        var (tenant, _) = TenantKey.Parse(this.GetPrimaryKeyString());
        var delay = TimeSpan.FromMilliseconds(200);
        while (_durable is { Resharding: { } resharding } table)
        {
            var pending = Enumerable.Range(0, table.Shards).Where(shard => !resharding.HasMoved(shard)).ToList();
            try
            {
                if (pending.Count == 0)
                {
                    await FinishAsync(table, resharding);
                    return;
                }

                using var gate = new SemaphoreSlim(HandOversInFlight);
                await Task.WhenAll(pending.Select(async shard =>
                {
                    await gate.WaitAsync();
                    try
                    {
                        await GrainFactory.GetGrain<IShardGrain>(ShardMap.ShardKey(tenant, table, shard)).HandOverAsync(resharding.ToId, resharding.To);
                        await RecordMovedAsync(shard);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
                delay = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception ex)
            {
                // A shard's silo died or the store failed: what moved is recorded; the rest is tried again.
                LogHandOverFailed(ex, table.Name, delay.TotalSeconds);
                await Task.Delay(delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task RecordMovedAsync(int shard)
    {
        await _changes.WaitAsync();
        try
        {
            if (_durable is { Resharding: { } resharding } table && !resharding.HasMoved(shard))
            {
                await WriteAsync(table with { Resharding = resharding.WithMoved(shard, silo.SiloAddress.ToParsableString()) }, CancellationToken.None);
            }
        }
        finally
        {
            _changes.Release();
        }
    }

    private async Task FinishAsync(TableInfo table, Resharding resharding)
    {
        await _changes.WaitAsync();
        try
        {
            // The retired layout is remembered (the last few), so watch cursors on it can follow to the new one.
            var retired = (table.Retired ?? []).Append(new RetiredLayout(table.Id, table.Shards)).TakeLast(RetiredLayoutsKept).ToList();
            var done = table with { Id = resharding.ToId, Shards = resharding.To, Resharding = null, Retired = retired };
            await WriteAsync(done, CancellationToken.None);
            // The old layout's shards are all sealed and copied: fence them for good and purge their rows.
            await store.MarkDroppedAsync(table.Id, table.Shards, CancellationToken.None);
            await ForgetReminderAsync();
            LogResharded(table.Name, table.Shards, resharding.To, (clock.GetUtcNow() - resharding.StartedAt).TotalSeconds);
        }
        finally
        {
            _changes.Release();
        }
    }

    // The spec callers see changes only once it is durable.
    private async Task WriteAsync(TableInfo table, CancellationToken cancellationToken)
    {
        var previous = state.State.Table;
        state.State.Table = table;
        try
        {
            await state.WriteStateAsync(cancellationToken);
        }
        catch
        {
            state.State.Table = previous;
            throw;
        }

        _durable = table;
    }

    private static int Target(TableInfo table) => table.Resharding?.To ?? table.Shards;

    private INameSetGrain Catalog(string tenant) => GrainFactory.GetGrain<INameSetGrain>(NameSets.Tables(tenant));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resharding {Table}: a hand-over failed; trying the remaining shards again in {Seconds} s")]
    private partial void LogHandOverFailed(Exception exception, string table, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resharded {Table} from {From} to {To} shards in {Seconds:F1} s")]
    private partial void LogResharded(string table, int from, int to, double seconds);

    [GenerateSerializer, Alias("oc.TableGrain.State")]
    public sealed class State
    {
        [Id(0)] public TableInfo? Table { get; set; }
    }
}
