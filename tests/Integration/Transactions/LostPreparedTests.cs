using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Transactions;

/// <summary>
/// A participant's "prepared" lost on its way to the transaction manager, as when the participant's
/// silo is isolated right after its prepare landed (defect 19, docs/reliability.md). The manager
/// waits for the vote until its PrepareTimeout and ignores the participant's pings meanwhile, and
/// every transaction on its key queues behind it: with Orleans' 20 s, the fault harness's bank
/// answered nothing for 20.1 s. The silo's 3 s aborts the transaction (nothing applied) and frees
/// the keys within seconds. In-process silo on real PostgreSQL; a test filter drops the vote.
/// </summary>
public sealed class LostPreparedTests
{
    [Fact]
    public async Task A_manager_whose_participant_vote_was_lost_aborts_within_seconds_and_frees_its_keys()
    {
        var marker = $"acct{Guid.NewGuid():N}";
        var lost = new LostPreparedVote(marker);
        await using var cluster = await PostgresCluster.StartAsync("lostprepared", silos: 1, services: services =>
            services.AddSingleton<IIncomingGrainCallFilter>(lost));
        using var http = await cluster.Api.CreateReadyClientAsync();
        var table = await http.NewTransactionalTableAsync(shards: 2);
        var (from, to) = await http.OpenTwoAccountsAsync(table, marker);

        lost.Enabled = true;
        // Answered within the Api's bound, most likely 503: the manager is still waiting for the vote.
        using var transfer = await http.TransferAsync(table, from, to, 4);
        await lost.Dropped.Task.WaitAsync(TimeSpan.FromSeconds(60));

        // Both keys answer again well before Orleans' 20 s. The aborted attempt applied nothing; the
        // coordinator may have run the transfer again within its deadline, and then it applied on both sides.
        await Eventually.WaitAsync(async () => (await http.TxnAsync($$"""
            {"success":[{"op":"get","table":"{{table}}","key":"{{from}}"},{"op":"get","table":"{{table}}","key":"{{to}}"}]}
            """)).IsSuccessStatusCode, TimeSpan.FromSeconds(12), "both keys to answer a transaction within 12 s of the lost vote");
        var balances = (await Task.WhenAll(http.ValueAsync(table, from), http.ValueAsync(table, to))).Select(v => decimal.Parse(v!)).ToArray();
        Assert.Contains(balances, b => b is 100m or 96m);
        Assert.Equal(200m, balances.Sum());
        if (transfer.IsSuccessStatusCode)
        {
            Assert.Equal([96m, 104m], balances);
        }
    }

    /// <summary>
    /// Drops the first "prepared" vote sent to a transaction manager of the keys named by
    /// <paramref name="marker"/> once enabled, as a cut network would: the call is one-way, so
    /// nobody waits for it. Registered before the product's filters, so it stands where the network does.
    /// </summary>
    private sealed class LostPreparedVote(string marker) : IIncomingGrainCallFilter
    {
        public volatile bool Enabled;

        public TaskCompletionSource Dropped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Invoke(IIncomingGrainCallContext context)
        {
            if (Enabled
                && context.InterfaceMethod?.DeclaringType == typeof(ITransactionManagerExtension)
                && context.InterfaceMethod.Name == nameof(ITransactionManagerExtension.Prepared)
                && context.TargetId.ToString().Contains(marker, StringComparison.Ordinal)
                && Dropped.TrySetResult())
            {
                Enabled = false;
                return Task.CompletedTask;
            }

            return context.Invoke();
        }
    }
}
