using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Grains.Transactions;
using OrleansCompute.Grains.Transactions.Storage;
using OrleansCompute.Transactions;

namespace OrleansCompute.Tests.Unit;

/// <summary>The pure parts of transactions: JSON arithmetic, compares, and the stored row's merge.</summary>
public class TransactionLogicTests
{
    [Theory]
    [InlineData(null, "5", "5")]
    [InlineData("10", "-3", "7")]
    [InlineData("2.5", "0.25", "2.75")]
    [InlineData("1e2", "1", "101")]
    public void Add_sums_json_numbers_and_absent_counts_as_zero(string? current, string delta, string expected)
    {
        Assert.True(JsonNumbers.TryAdd(current is null ? null : Encoding.UTF8.GetBytes(current), decimal.Parse(delta, System.Globalization.CultureInfo.InvariantCulture), out var sum));
        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), decimal.Parse(Encoding.UTF8.GetString(sum), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("\"7\"")]
    [InlineData("null")]
    [InlineData("{\"n\":1}")]
    [InlineData("[1]")]
    public void Add_refuses_values_that_are_not_numbers(string current) =>
        Assert.False(JsonNumbers.TryAdd(Encoding.UTF8.GetBytes(current), 1, out _));

    [Theory]
    [InlineData("10", TxnCompareOp.GreaterOrEqual, "10", true)]
    [InlineData("10", TxnCompareOp.Less, "10.5", true)]
    [InlineData("\"b\"", TxnCompareOp.Greater, "\"a\"", true)]
    [InlineData("\"b\"", TxnCompareOp.Greater, "1", false)]
    [InlineData("[1,2]", TxnCompareOp.Equal, "[1,2]", true)]
    [InlineData("[1,2]", TxnCompareOp.NotEqual, "[2,1]", true)]
    public void Value_compares_order_numbers_and_strings_and_test_anything_for_equality(string stored, TxnCompareOp op, string operand, bool holds)
    {
        var compare = new TxnCompare(new TxnKeyRef("t", "k", "tenant/x"), TxnCompareTarget.Value, op, Encoding.UTF8.GetBytes(operand));
        Assert.Equal(holds, CompareEvaluator.Holds(compare, new TxnKeyValue(Encoding.UTF8.GetBytes(stored), 1)));
    }

    [Fact]
    public void Stored_state_adds_prepares_commits_through_a_sequence_and_drops_aborted_ones()
    {
        var stored = new StoredTransactionalState<Box>();
        var prepared = stored.Apply(new TransactionalStateMetaData(), [Pending(1, "a"), Pending(2, "b"), Pending(3, "c")], commitUpTo: null, abortAfter: null);
        var committed = prepared.Apply(new TransactionalStateMetaData(), null, commitUpTo: 2, abortAfter: null);
        var aborted = committed.Apply(new TransactionalStateMetaData(), null, commitUpTo: null, abortAfter: 2);

        Assert.Equal(3, prepared.PendingStates.Count);
        Assert.Equal(0, prepared.CommittedSequenceId);
        Assert.Equal(("b", 2L), (committed.CommittedState.Text, committed.CommittedSequenceId));
        Assert.Equal([3L], committed.PendingStates.Select(p => p.SequenceId));
        Assert.Empty(aborted.PendingStates);
        Assert.Equal(3, prepared.Apply(new TransactionalStateMetaData(), [Pending(2, "b2")], null, null).PendingStates.Count);
        Assert.Throws<InvalidOperationException>(() => stored.Apply(new TransactionalStateMetaData(), null, commitUpTo: 5, abortAfter: null));
    }

    private static PendingTransactionState<Box> Pending(long sequence, string text) =>
        new() { SequenceId = sequence, TransactionId = Guid.NewGuid().ToString(), TimeStamp = DateTime.UtcNow, State = new Box { Text = text } };

    public sealed class Box
    {
        public string Text { get; set; } = "";
    }
}

/// <summary>When a transaction manager's ping and commit request may go on (<see cref="PresumedAbortFilter"/>, defect 17).</summary>
public class PresumedAbortFilterTests
{
    private static readonly GrainId Manager = GrainId.Create("transactionalkey", "default/t/0/a");
    private readonly PresumedAbortFilter _filter = new(NullLogger<PresumedAbortFilter>.Instance);

    [Fact]
    public void A_commit_request_after_a_ping_for_its_transaction_is_refused()
    {
        var transaction = (Manager, Guid.NewGuid());
        Assert.True(_filter.OnPing(transaction));
        Assert.False(_filter.OnCommitRequest(transaction));
    }

    [Fact]
    public void A_ping_while_the_commit_request_is_worked_on_is_dropped_and_presumes_nothing()
    {
        var transaction = (Manager, Guid.NewGuid());
        Assert.True(_filter.OnCommitRequest(transaction));
        Assert.False(_filter.OnPing(transaction));
        _filter.OnCommitRequestDone(transaction);
        Assert.Equal(0, _filter.Count);
    }

    [Fact]
    public void Once_the_manager_answered_the_commit_request_pings_go_on_to_it()
    {
        var transaction = (Manager, Guid.NewGuid());
        Assert.True(_filter.OnCommitRequest(transaction));
        _filter.OnCommitRequestDone(transaction);
        Assert.True(_filter.OnPing(transaction));
        Assert.True(_filter.OnPing(transaction));
    }

    [Fact]
    public void A_presumed_abort_concerns_its_own_transaction_and_manager_only()
    {
        var transaction = Guid.NewGuid();
        Assert.True(_filter.OnPing((Manager, transaction)));
        Assert.True(_filter.OnCommitRequest((Manager, Guid.NewGuid())));
        Assert.True(_filter.OnCommitRequest((GrainId.Create("transactionalkey", "default/t/0/b"), transaction)));
    }
}
