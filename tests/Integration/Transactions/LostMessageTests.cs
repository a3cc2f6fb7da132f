using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Transactions;

/// <summary>
/// A two-phase commit message lost on its way, as when a participant's silo is cut off mid-commit
/// (defects 19 and 20, docs/reliability.md). Each loss held the keys of the transaction, and every
/// transaction queued behind them, for one of Orleans' timeouts: 20 s for a lost "prepared" vote,
/// 30 s for a lost confirmation of a commit. The silo's settings free them within seconds. In-process
/// silo on real PostgreSQL; a test filter drops one message.
/// </summary>
public sealed class LostMessageTests
{
    /// <summary>
    /// The manager waits for the vote until its PrepareTimeout and ignores the participant's pings
    /// meanwhile; with the silo's 3 s it aborts (nothing applied) and frees its keys.
    /// </summary>
    [Fact]
    public Task A_manager_whose_participant_vote_was_lost_aborts_within_seconds_and_frees_its_keys() =>
        TransferWithALostMessageAsync(nameof(ITransactionManagerExtension.Prepared), typeof(ITransactionManagerExtension));

    /// <summary>
    /// The manager retries a confirmation that failed after ConfirmationRetryDelay and, meanwhile,
    /// ignores the participant's pings ("confirmation pending"), so the participant's key stays
    /// locked; the bank answered nothing for 26.8 s after a 7 s partition. With the silo's 1 s the
    /// retry lands within seconds.
    /// </summary>
    [Fact]
    public Task A_participant_whose_commit_confirmation_was_lost_is_confirmed_again_within_seconds() =>
        TransferWithALostMessageAsync(nameof(ITransactionalResourceExtension.Confirm), typeof(ITransactionalResourceExtension));

    private static async Task TransferWithALostMessageAsync(string method, Type extension)
    {
        var marker = $"acct{Guid.NewGuid():N}";
        var lost = new LostMessage(marker, extension, method);
        await using var cluster = await PostgresCluster.StartAsync("lostmessage", silos: 1, services: services =>
            services.AddSingleton<IIncomingGrainCallFilter>(lost));
        using var http = await cluster.Api.CreateReadyClientAsync();
        var table = await http.NewTransactionalTableAsync(shards: 2);
        var (from, to) = await http.OpenTwoAccountsAsync(table, marker);

        lost.Enabled = true;
        // Answered within the Api's bound: 503 while a vote is missing, 200 once the commit is decided.
        using var transfer = await http.TransferAsync(table, from, to, 4);
        await lost.Dropped.Task.WaitAsync(TimeSpan.FromSeconds(60));

        // Both keys answer again well before Orleans' timeout. An aborted attempt applied nothing; the
        // coordinator may have run the transfer again within its deadline, and then it applied on both sides.
        await Eventually.WaitAsync(async () => (await http.TxnAsync($$"""
            {"success":[{"op":"get","table":"{{table}}","key":"{{from}}"},{"op":"get","table":"{{table}}","key":"{{to}}"}]}
            """)).IsSuccessStatusCode, TimeSpan.FromSeconds(12), $"both keys to answer a transaction within 12 s of the lost {method}");
        var balances = (await Task.WhenAll(http.ValueAsync(table, from), http.ValueAsync(table, to))).Select(v => decimal.Parse(v!)).ToArray();
        Assert.Contains(balances, b => b is 100m or 96m);
        Assert.Equal(200m, balances.Sum());
        if (transfer.IsSuccessStatusCode)
        {
            Assert.Equal([96m, 104m], balances);
        }
    }

    /// <summary>
    /// Loses the first call of <paramref name="method"/> to a grain of the keys named by
    /// <paramref name="marker"/> once enabled, as a cut network would: a one-way call just vanishes,
    /// a request fails. Registered before the product's filters, so it stands where the network does.
    /// </summary>
    private sealed class LostMessage(string marker, Type extension, string method) : IIncomingGrainCallFilter
    {
        public volatile bool Enabled;

        public TaskCompletionSource Dropped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Invoke(IIncomingGrainCallContext context)
        {
            if (Enabled
                && context.InterfaceMethod?.DeclaringType == extension
                && context.InterfaceMethod.Name == method
                && context.TargetId.ToString().Contains(marker, StringComparison.Ordinal)
                && Dropped.TrySetResult())
            {
                Enabled = false;
                if (context.InterfaceMethod.IsDefined(typeof(Orleans.Concurrency.OneWayAttribute), inherit: false))
                {
                    return Task.CompletedTask;
                }

                // The participant's silo went away with the message: its next activation starts from
                // the store, with the transaction prepared and not yet confirmed.
                context.TargetContext.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "as if its silo had died"));
                throw new TimeoutException($"{method} lost by the test, as in a cut network.");
            }

            return context.Invoke();
        }
    }
}
