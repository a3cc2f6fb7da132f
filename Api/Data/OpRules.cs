using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansCompute.Coordination;
using OrleansCompute.Data;

namespace OrleansCompute.Api.Data;

/// <summary>
/// The rules every operation of a batch or a transaction obeys, each with its one message: the
/// op's name, its key, and whether it carries a value and how large.
/// </summary>
public static class OpRules
{
    /// <summary>What an operation does; <see cref="Add"/> only in transactions.</summary>
    public enum Kind
    {
        Get,
        Put,
        Delete,
        Add,
    }

    /// <summary>
    /// Checks one operation named by <paramref name="field"/> (e.g. <c>ops[3]</c>); its kind and the
    /// value's JSON bytes, or null when something is wrong and <paramref name="errors"/> says what.
    /// </summary>
    public static (Kind Kind, byte[]? Value)? Check(
        string? op, string? key, JsonElement value, string field, bool allowAdd, KeyValueLimits limits, Dictionary<string, string[]> errors)
    {
        var keyValid = true;
        if (KeyValueLimits.KeyError(key) is { } keyError)
        {
            errors[$"{field}.key"] = [keyError];
            keyValid = false;
        }

        var hasValue = value.ValueKind != JsonValueKind.Undefined;
        (Kind Kind, byte[]? Value)? parsed = null;
        string? valueError = null;
        switch (op)
        {
            case "get" or "delete" when hasValue:
                valueError = $"A {op} takes no value.";
                break;
            case "get":
                parsed = (Kind.Get, null);
                break;
            case "delete":
                parsed = (Kind.Delete, null);
                break;
            case "put" when !hasValue:
                valueError = "A put needs a value (any JSON value, null included).";
                break;
            case "put":
                var bytes = JsonSerializer.SerializeToUtf8Bytes(value);
                if (bytes.Length > limits.MaxValueBytes)
                {
                    valueError = $"A value is at most {limits.MaxValueBytes} bytes; this one has {bytes.Length}.";
                    break;
                }

                parsed = (Kind.Put, bytes);
                break;
            case "add" when allowAdd && (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out _)):
                valueError = "An add needs a JSON number (within ±7.9e28) to add.";
                break;
            case "add" when allowAdd:
                parsed = (Kind.Add, JsonSerializer.SerializeToUtf8Bytes(value));
                break;
            default:
                errors[$"{field}.op"] = [allowAdd ? $"op must be get, put, delete or add, not '{op}'." : $"op must be get, put or delete, not '{op}'."];
                break;
        }

        if (valueError is not null)
        {
            errors[$"{field}.value"] = [valueError];
        }

        return keyValid ? parsed : null;
    }

    /// <summary>
    /// Checks an operation's <c>fence</c> (writes only: put, delete, add); the fence, or null when there is
    /// none or something is wrong and <paramref name="errors"/> says what.
    /// </summary>
    public static KvFence? CheckFence(string? op, FenceRequest? fence, string field, Dictionary<string, string[]> errors)
    {
        if (fence is null)
        {
            return null;
        }

        if (op is not ("put" or "delete" or "add"))
        {
            errors[$"{field}.fence"] = ["Only writes (put, delete, add) can be fenced."];
            return null;
        }

        if (FenceError(fence.Lock, fence.Token ?? 0) is { } error)
        {
            errors[$"{field}.fence"] = [error];
            return null;
        }

        return new KvFence(fence.Lock!, fence.Token!.Value);
    }

    /// <summary>What is wrong with a fence of <paramref name="lockName"/> and <paramref name="token"/>, or null.</summary>
    public static string? FenceError(string? lockName, long token) =>
        !CoordinationNames.IsValid(lockName) ? $"fence.lock must be a lock's name: {CoordinationNames.Rule}."
        : token < 1 ? "fence.token must be the token (a whole number from 1) the lock's acquire returned."
        : null;
}

/// <summary>A fencing token as an operation carries it: the lock's name (in the caller's tenant) and the token its acquire returned.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record FenceRequest(string? Lock, long? Token);
