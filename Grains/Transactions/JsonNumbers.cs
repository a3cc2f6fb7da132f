using System.Text.Json;

namespace OrleansCompute.Grains.Transactions;

/// <summary>Arithmetic and comparison on JSON values as stored (UTF-8 JSON text).</summary>
public static class JsonNumbers
{
    /// <summary>
    /// <paramref name="current"/> + <paramref name="delta"/> as JSON text; an absent value counts as
    /// 0. False when <paramref name="current"/> is not a JSON number, or the sum does not fit a decimal.
    /// </summary>
    public static bool TryAdd(byte[]? current, decimal delta, out byte[] sum)
    {
        sum = [];
        var start = 0m;
        if (current is not null && !TryReadDecimal(current, out start))
        {
            return false;
        }

        decimal result;
        try
        {
            result = start + delta;
        }
        catch (OverflowException)
        {
            return false;
        }

        sum = JsonSerializer.SerializeToUtf8Bytes(result);
        return true;
    }

    /// <summary>True when <paramref name="json"/> is a single JSON number that fits a decimal.</summary>
    public static bool TryReadDecimal(byte[] json, out decimal value)
    {
        value = 0;
        var reader = new Utf8JsonReader(json);
        return reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetDecimal(out value);
    }

    /// <summary>
    /// Compares two JSON values: numbers by value, strings in code point order, anything else only
    /// for equality (structural). Null when they cannot be ordered (different kinds, or objects).
    /// </summary>
    public static int? Order(JsonElement left, JsonElement right)
    {
        if (left.ValueKind == JsonValueKind.Number && right.ValueKind == JsonValueKind.Number)
        {
            if (left.TryGetDecimal(out var a) && right.TryGetDecimal(out var b))
            {
                return a.CompareTo(b);
            }

            return left.GetDouble().CompareTo(right.GetDouble());
        }

        if (left.ValueKind == JsonValueKind.String && right.ValueKind == JsonValueKind.String)
        {
            return Math.Sign(OrleansCompute.Data.KeyOrder.Instance.Compare(left.GetString(), right.GetString()));
        }

        return null;
    }
}
