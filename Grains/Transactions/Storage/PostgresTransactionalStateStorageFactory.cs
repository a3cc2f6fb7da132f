using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Orleans.Transactions.Abstractions;

namespace OrleansCompute.Grains.Transactions.Storage;

/// <summary>Gives each transactional state of each grain its row in <c>oc_txn_state</c>.</summary>
public sealed class PostgresTransactionalStateStorageFactory(TransactionalStateWriter writer, Serializer serializer) : ITransactionalStateStorageFactory
{
    public ITransactionalStateStorage<TState> Create<TState>(string stateName, IGrainContext context)
        where TState : class, new() =>
        new PostgresTransactionalStateStorage<TState>(context.GrainId.ToString(), stateName, writer, serializer, WatchedKey.Of<TState>(context), KeyLogWatermark.Of(context));
}
