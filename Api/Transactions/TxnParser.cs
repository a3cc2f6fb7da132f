using System.Text.Json;
using OrleansCompute.Api.Data;
using OrleansCompute.Data;
using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Transactions;

/// <summary>
/// Checks a transaction body and names every field that is wrong; what it accepts can be turned
/// into a <see cref="TxnRequest"/> once the tables are resolved.
/// </summary>
public sealed class TxnParser
{
    private static readonly Dictionary<string, TxnCompareOp> CompareOps = new(StringComparer.Ordinal)
    {
        ["=="] = TxnCompareOp.Equal,
        ["!="] = TxnCompareOp.NotEqual,
        [">"] = TxnCompareOp.Greater,
        [">="] = TxnCompareOp.GreaterOrEqual,
        ["<"] = TxnCompareOp.Less,
        ["<="] = TxnCompareOp.LessOrEqual,
    };

    private readonly List<(string Table, string Key, TxnCompareTarget Target, TxnCompareOp Op, byte[] Value)> _compare = [];
    private readonly List<(TxnOpKind Kind, string Table, string Key, byte[]? Value, KvFence? Fence)> _success = [];
    private readonly List<(TxnOpKind Kind, string Table, string Key, byte[]? Value, KvFence? Fence)> _failure = [];

    /// <summary>Each table named, with the first field that names it.</summary>
    public List<(string Table, string Field)> Tables { get; } = [];

    /// <summary>True when either branch has an operation that writes.</summary>
    public bool Writes => _success.Concat(_failure).Any(op => op.Kind != TxnOpKind.Get);

    public static TxnParser Parse(TxnBody body, TransactionLimits limits, KeyValueLimits keyLimits, Dictionary<string, string[]> errors)
    {
        var parser = new TxnParser();
        var count = (body.Compare?.Count ?? 0) + (body.Success?.Count ?? 0) + (body.Failure?.Count ?? 0);
        if (count > limits.MaxOps)
        {
            errors["ops"] = [$"A transaction has at most {limits.MaxOps} compares and operations in all; this one has {count}."];
            return parser;
        }

        for (var i = 0; i < (body.Compare?.Count ?? 0); i++)
        {
            parser.ParseCompare(body.Compare![i], $"compare[{i}]", errors);
        }

        for (var i = 0; i < (body.Success?.Count ?? 0); i++)
        {
            parser.ParseOp(body.Success![i], $"success[{i}]", keyLimits, parser._success, errors);
        }

        for (var i = 0; i < (body.Failure?.Count ?? 0); i++)
        {
            parser.ParseOp(body.Failure![i], $"failure[{i}]", keyLimits, parser._failure, errors);
        }

        return parser;
    }

    /// <summary>The request, with each key resolved to its grain by <paramref name="resolve"/>.</summary>
    public TxnRequest Build(Func<string, string, TxnKeyRef> resolve) => new(
        [.. _compare.Select(c => new TxnCompare(resolve(c.Table, c.Key), c.Target, c.Op, c.Value))],
        [.. _success.Select(o => new TxnOp(o.Kind, resolve(o.Table, o.Key), o.Value, o.Fence))],
        [.. _failure.Select(o => new TxnOp(o.Kind, resolve(o.Table, o.Key), o.Value, o.Fence))]);

    private void ParseCompare(TxnCompareBody compare, string field, Dictionary<string, string[]> errors)
    {
        var valid = CheckTableAndKey(compare.Table, compare.Key, field, errors);
        TxnCompareTarget? target = compare.Target switch
        {
            "value" => TxnCompareTarget.Value,
            "version" => TxnCompareTarget.Version,
            "exists" => TxnCompareTarget.Exists,
            _ => null,
        };
        if (target is null)
        {
            errors[$"{field}.target"] = [$"target must be value, version or exists, not '{compare.Target}'."];
            valid = false;
        }

        if (compare.Op is null || !CompareOps.TryGetValue(compare.Op, out var op))
        {
            errors[$"{field}.op"] = [$"op must be one of == != > >= < <=, not '{compare.Op}'."];
            return;
        }

        var value = compare.Value;
        var valueError = (target, value.ValueKind) switch
        {
            (_, JsonValueKind.Undefined) => "A compare needs a value.",
            (TxnCompareTarget.Exists, not (JsonValueKind.True or JsonValueKind.False)) => "An exists compare takes true or false.",
            (TxnCompareTarget.Version, _) when value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var v) || v < 0 =>
                "A version compare takes a whole number, 0 or more (0 means the key is absent).",
            (TxnCompareTarget.Value, not (JsonValueKind.Number or JsonValueKind.String)) when op is not (TxnCompareOp.Equal or TxnCompareOp.NotEqual) =>
                "Only numbers and strings have an order; compare other values with == or !=.",
            _ => null,
        };
        if (target == TxnCompareTarget.Exists && op is not (TxnCompareOp.Equal or TxnCompareOp.NotEqual))
        {
            errors[$"{field}.op"] = ["An exists compare takes == or !=."];
            valid = false;
        }

        if (valueError is not null)
        {
            errors[$"{field}.value"] = [valueError];
            valid = false;
        }

        if (valid && target is { } t)
        {
            _compare.Add((compare.Table!, compare.Key!, t, op, JsonSerializer.SerializeToUtf8Bytes(value)));
        }
    }

    private void ParseOp(TxnOpBody op, string field, KeyValueLimits keyLimits, List<(TxnOpKind, string, string, byte[]?, KvFence?)> into, Dictionary<string, string[]> errors)
    {
        var tableValid = CheckTable(op.Table, field, errors);
        var fence = OpRules.CheckFence(op.Op, op.Fence, field, errors);
        if (OpRules.Check(op.Op, op.Key, op.Value, field, allowAdd: true, keyLimits, errors) is { } parsed && tableValid)
        {
            var kind = parsed.Kind switch
            {
                OpRules.Kind.Get => TxnOpKind.Get,
                OpRules.Kind.Put => TxnOpKind.Put,
                OpRules.Kind.Delete => TxnOpKind.Delete,
                _ => TxnOpKind.Add,
            };
            into.Add((kind, op.Table!, op.Key!, parsed.Value, fence));
        }
    }

    private bool CheckTableAndKey(string? table, string? key, string field, Dictionary<string, string[]> errors)
    {
        var valid = CheckTable(table, field, errors);
        if (KeyValueLimits.KeyError(key) is { } keyError)
        {
            errors[$"{field}.key"] = [keyError];
            valid = false;
        }

        return valid;
    }

    private bool CheckTable(string? table, string field, Dictionary<string, string[]> errors)
    {
        if (table is null || !TableNames.IsValid(table))
        {
            errors[$"{field}.table"] = [$"table must be {TableNames.Rule}."];
            return false;
        }

        if (!Tables.Any(t => t.Table == table))
        {
            Tables.Add((table, $"{field}.table"));
        }

        return true;
    }
}
