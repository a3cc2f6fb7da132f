using Orleans.Transactions.Abstractions;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>
/// One key of a transactional table. Its value lives in <see cref="ITransactionalState{TState}"/>,
/// so every change is part of the caller's transaction and durable once that commits. Creating or
/// deleting the key updates its shard's index in the same transaction, so scans never list a key
/// whose creation did not commit.
/// </summary>
public sealed class TransactionalKeyGrain(
    [TransactionalState("key", StorageNames.Transactional)] ITransactionalState<TransactionalKeyGrain.State> state) : Grain, ITransactionalKeyGrain
{
    public Task<TxnKeyValue> ReadAsync() => state.PerformRead(Current);

    public async Task<TxnKeyValue> PutAsync(byte[] value)
    {
        var created = false;
        var result = await state.PerformUpdate(s =>
        {
            created = s.Value is null;
            s.Value = value;
            s.Version++;
            return Current(s);
        });
        if (created)
        {
            await Index().AddAsync(Key());
        }

        return result;
    }

    public async Task<TxnKeyValue> DeleteAsync()
    {
        // A write lock from the start: a read lock upgraded later would conflict with concurrent readers.
        var before = await state.PerformUpdate(s =>
        {
            var was = Current(s);
            s.Value = null;
            s.Version = 0;
            return was;
        });
        if (before.Exists)
        {
            await Index().RemoveAsync(Key());
        }

        return before;
    }

    public async Task<TxnKeyValue?> AddAsync(decimal delta)
    {
        var created = false;
        var result = await state.PerformUpdate(s =>
        {
            if (!JsonNumbers.TryAdd(s.Value, delta, out var sum))
            {
                return null;
            }

            created = s.Value is null;
            s.Value = sum;
            s.Version++;
            return Current(s);
        });
        if (created)
        {
            await Index().AddAsync(Key());
        }

        return result;
    }

    private static TxnKeyValue Current(State s) => s.Value is null ? TxnKeyValue.Absent : new(s.Value, s.Version);

    private string Key() => TxnKeys.ParseKeyGrain(this.GetPrimaryKeyString()).Key;

    private ITransactionalKeyIndexGrain Index()
    {
        var (tenant, tableId, shard, _) = TxnKeys.ParseKeyGrain(this.GetPrimaryKeyString());
        return GrainFactory.GetGrain<ITransactionalKeyIndexGrain>(TxnKeys.IndexGrain(tenant, tableId, shard));
    }

    /// <summary>The key's value (JSON text, null when absent) and version (0 when absent).</summary>
    [GenerateSerializer, Alias("oc.TransactionalKeyGrain.State")]
    public sealed class State
    {
        [Id(0)] public byte[]? Value { get; set; }

        [Id(1)] public long Version { get; set; }
    }
}
