using System.Text.Json;
using OrleansCompute.Transactions;

namespace OrleansCompute.Grains.Transactions;

/// <summary>
/// Decides one compare of a transaction against the key as the transaction read it. The Api has
/// already checked that the compare is well formed (a boolean for exists, an integer for version).
/// </summary>
public static class CompareEvaluator
{
    public static bool Holds(TxnCompare compare, TxnKeyValue key)
    {
        using var right = JsonDocument.Parse(compare.Value);
        switch (compare.Target)
        {
            case TxnCompareTarget.Exists:
                var exists = right.RootElement.GetBoolean();
                return compare.Op == TxnCompareOp.Equal ? key.Exists == exists : key.Exists != exists;
            case TxnCompareTarget.Version:
                return Apply(compare.Op, key.Version.CompareTo(right.RootElement.GetInt64()));
            default:
                // An absent key has no value: no value compare holds for it, not even "!=".
                if (key.Value is null)
                {
                    return false;
                }

                using (var left = JsonDocument.Parse(key.Value))
                {
                    if (compare.Op is TxnCompareOp.Equal or TxnCompareOp.NotEqual)
                    {
                        var equal = JsonNumbers.Order(left.RootElement, right.RootElement) is { } order
                            ? order == 0
                            : JsonElement.DeepEquals(left.RootElement, right.RootElement);
                        return compare.Op == TxnCompareOp.Equal ? equal : !equal;
                    }

                    // Values of different kinds have no order: the compare does not hold.
                    return JsonNumbers.Order(left.RootElement, right.RootElement) is { } ordered && Apply(compare.Op, ordered);
                }
        }
    }

    private static bool Apply(TxnCompareOp op, int order) => op switch
    {
        TxnCompareOp.Equal => order == 0,
        TxnCompareOp.NotEqual => order != 0,
        TxnCompareOp.Greater => order > 0,
        TxnCompareOp.GreaterOrEqual => order >= 0,
        TxnCompareOp.Less => order < 0,
        _ => order <= 0,
    };
}
