using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Transactions;

/// <summary>
/// A participant that voted to commit asks the transaction manager for the outcome 2 s later, and
/// a manager that has not yet received the commit request presumes the transaction aborted: it
/// tells the participant to drop its write. If the commit request arrives after that (held in a
/// slow network), the manager must not commit, or the transaction is applied on the manager only:
/// that is how the bank's total became 404 under loss and delay (defect 17, docs/reliability.md).
/// In-process silo on real PostgreSQL; a test filter holds the manager's commit request until a
/// participant's ping has been answered, as the network did.
/// </summary>
public sealed class PresumedAbortTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_commit_request_that_reaches_its_manager_after_a_presumed_abort_applies_nothing()
    {
        var marker = $"acct{Guid.NewGuid():N}";
        var late = new LateCommitRequests(marker);
        await using var cluster = await PostgresCluster.StartAsync("presumed", silos: 1, services: services =>
            services.AddSingleton<IIncomingGrainCallFilter>(late));
        using var http = await cluster.Api.CreateReadyClientAsync();
        var table = await http.NewTransactionalTableAsync(shards: 2);
        var (from, to) = await http.OpenTwoAccountsAsync(table, marker);

        late.Enabled = true;
        // The Api answers within its bound (a 503 once the request's deadline passed); the
        // transaction goes on behind it until its manager decides.
        using var transfer = await http.TransferAsync(table, from, to, 4);
        var held = await late.Held.Task.WaitAsync(Deadline);
        await late.Released(held).WaitAsync(Deadline);
        late.Enabled = false;

        // Both keys answer once the transaction is settled: applied on both sides or on neither.
        var balances = (await Task.WhenAll(http.SettledValueAsync(table, from), http.SettledValueAsync(table, to))).Select(v => decimal.Parse(v!)).ToArray();
        Assert.Equal(200, balances.Sum());
        Assert.Equal([100m, 100m], balances);
    }

    /// <summary>
    /// Holds a transaction manager's commit request (of the keys named by <paramref name="marker"/>)
    /// until a participant's ping for the same transaction has been answered by the manager.
    /// Registered before the product's filters, so it stands where the network does.
    /// </summary>
    private sealed class LateCommitRequests(string marker) : IIncomingGrainCallFilter
    {
        private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _pinged = new();
        private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _released = new();

        public volatile bool Enabled;

        public TaskCompletionSource<Guid> Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes once the held commit request of <paramref name="transaction"/> went on to the manager and was answered.</summary>
        public Task Released(Guid transaction) => Signal(_released, transaction).Task;

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (!Enabled || context.InterfaceMethod?.DeclaringType != typeof(ITransactionManagerExtension) || !context.TargetId.ToString().Contains(marker, StringComparison.Ordinal))
            {
                await context.Invoke();
                return;
            }

            var transaction = (Guid)context.Request.GetArgument(1)!;
            switch (context.InterfaceMethod.Name)
            {
                case nameof(ITransactionManagerExtension.Ping):
                    await context.Invoke();
                    Signal(_pinged, transaction).TrySetResult();
                    return;
                case nameof(ITransactionManagerExtension.PrepareAndCommit):
                    Held.TrySetResult(transaction);
                    await Signal(_pinged, transaction).Task.WaitAsync(Deadline);
                    try
                    {
                        await context.Invoke();
                    }
                    finally
                    {
                        Signal(_released, transaction).TrySetResult();
                    }

                    return;
                default:
                    await context.Invoke();
                    return;
            }
        }

        private static TaskCompletionSource Signal(ConcurrentDictionary<Guid, TaskCompletionSource> signals, Guid transaction) =>
            signals.GetOrAdd(transaction, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}
