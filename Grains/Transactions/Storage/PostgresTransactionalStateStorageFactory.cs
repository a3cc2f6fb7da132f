using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Orleans.Transactions.Abstractions;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>Gives each transactional state of each grain its row in <c>oc_txn_state</c>.</summary>
public sealed class PostgresTransactionalStateStorageFactory(TransactionalStateWriter writer, Serializer serializer) : ITransactionalStateStorageFactory
{
    public ITransactionalStateStorage<TState> Create<TState>(string stateName, IGrainContext context)
        where TState : class, new()
    {
        // Only a key's storage logs its changes, and so gives them revisions.
        var watched = WatchedKey.Of<TState>(context);
        var watermark = watched is null ? null : KeyLogWatermark.Of(context).Tracked();
        return new PostgresTransactionalStateStorage<TState>(context.GrainId.ToString(), stateName, writer, serializer, watched, watermark);
    }
}
