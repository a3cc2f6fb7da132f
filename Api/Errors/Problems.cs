using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCompute.Data;
using OrleansCompute.Jobs;
using OrleansCompute.Transactions;

namespace OrleansCompute.Api.Errors;

/// <summary>
/// The problem answers endpoints return as values, one builder per kind of answer, so a kind has
/// one <c>type</c>, one status and one wording. Faults thrown by the cluster are answered by
/// <see cref="ProblemExceptionHandler"/> instead.
/// </summary>
public static class Problems
{
    public static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "Invalid request", type: ProblemTypes.Validation,
            detail: $"Nothing was changed. Fix {string.Join(", ", errors.Keys)}: 'errors' says what is wrong with each.");

    public static ValidationProblem Invalid(string field, string message) => Invalid(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>Field errors a grain reported, grouped by field.</summary>
    public static ValidationProblem Invalid(IEnumerable<FieldError> errors) =>
        Invalid(errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()));

    /// <summary>404 for a missing resource of kind <paramref name="what"/> (e.g. "Table").</summary>
    public static ProblemHttpResult NotFound(string what, string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound, type: ProblemTypes.NotFound, title: $"{what} not found", detail: detail);

    public static ProblemHttpResult TableNotFound(string table) => NotFound("Table", $"There is no table '{table}'.");

    public static ProblemHttpResult Conflict(string title, string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict, type: ProblemTypes.Conflict, title: title, detail: detail);

    /// <summary>412: a conditional write's condition did not hold; <paramref name="currentVersion"/> is 0 when the key is absent.</summary>
    public static ProblemHttpResult PreconditionFailed(string key, long currentVersion) => TypedResults.Problem(
        statusCode: StatusCodes.Status412PreconditionFailed,
        type: ProblemTypes.PreconditionFailed,
        title: "Precondition failed",
        detail: currentVersion == 0
            ? $"Key '{key}' does not exist, so the condition does not hold. Nothing was changed."
            : $"Key '{key}' is at version {currentVersion}, so the condition does not hold. Nothing was changed.",
        extensions: new Dictionary<string, object?> { ["currentVersion"] = currentVersion });

    /// <summary>
    /// 409 fenced: a fenced write's token is below <paramref name="highest"/>, the highest its lock
    /// already wrote to the key with, or (<paramref name="neverIssued"/>) above the highest the lock issued.
    /// </summary>
    public static ProblemHttpResult Fenced(string key, string lockName, long token, long highest, bool neverIssued) => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict,
        type: ProblemTypes.Fenced,
        title: "Fenced",
        detail: neverIssued
            ? $"Lock '{lockName}' never issued token {token} (it issued up to {highest}). Nothing was changed."
            : $"Lock '{lockName}' already wrote to key '{key}' with token {highest}, above {token}: the holder of {token} lost the lock. Nothing was changed.",
        extensions: new Dictionary<string, object?> { ["lock"] = lockName, [neverIssued ? "issuedThrough" : "highestToken"] = highest });

    /// <summary>
    /// 410 compacted: a watch cursor is older than the change log still holds for
    /// <paramref name="shard"/>; <paramref name="oldestRevision"/> is the oldest revision it holds there.
    /// </summary>
    public static ProblemHttpResult Compacted(string table, int shard, long cursor, long oldestRevision) => TypedResults.Problem(
        statusCode: StatusCodes.Status410Gone,
        type: ProblemTypes.Compacted,
        title: "Compacted",
        detail: $"The watch cursor of table '{table}' is at revision {cursor} on shard {shard}, but the change log keeps that shard's changes only from revision {oldestRevision} on (older ones passed the retention). Start again without a cursor, after reading the keys you need.",
        extensions: new Dictionary<string, object?> { ["shard"] = shard, ["oldestRevision"] = oldestRevision });

    /// <summary>429 with the seconds to wait in Retry-After.</summary>
    public static ProblemHttpResult TooMany(HttpContext http, string type, string title, string detail, int retryAfterSeconds)
    {
        RetryAfter(http, retryAfterSeconds);
        return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, type: type, title: title, detail: detail);
    }

    /// <summary>503 with Retry-After when a per-tenant limit could not be checked (its grain did not answer in time): nothing was taken.</summary>
    public static ProblemHttpResult SlotsUnavailable(HttpContext http, string what)
    {
        RetryAfter(http, ClusterFaults.RetryAfterSeconds);
        return TypedResults.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            type: ProblemTypes.ClusterUnavailable,
            title: "Limit not checked",
            detail: $"The cluster did not answer in time whether this tenant may open another {what}; nothing was opened. Retry after the time in the Retry-After header.");
    }

    /// <summary>
    /// The answer for a transaction that did not commit, or null when it did: 409 on a conflict and
    /// 503 when its participants were unavailable (nothing applied either way), 503 outcome-unknown
    /// when it may have applied. Each carries Retry-After.
    /// </summary>
    public static ProblemHttpResult? Uncommitted(HttpContext http, TxnOutcome outcome, string? message)
    {
        switch (outcome)
        {
            case TxnOutcome.Committed:
                return null;
            case TxnOutcome.Conflict:
                RetryAfter(http, ConflictRetryAfterSeconds);
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status409Conflict,
                    type: ProblemTypes.TransactionConflict,
                    title: "Transaction conflict",
                    detail: (message ?? "Another transaction changed a key this one used; nothing was applied.") + " Retry after the time in the Retry-After header.");
            case TxnOutcome.OutcomeUnknown:
                RetryAfter(http, ClusterFaults.RetryAfterSeconds);
                return OutcomeUnknown((message ?? "The transaction may or may not have been applied.") + " Read the keys to find out before retrying.");
            default:
                RetryAfter(http, ClusterFaults.RetryAfterSeconds);
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    type: ProblemTypes.ClusterUnavailable,
                    title: "Transaction participants unavailable",
                    detail: message ?? $"The transaction ended {outcome}; nothing was applied.");
        }
    }

    /// <summary>Seconds a client should wait before retrying a transaction that conflicted.</summary>
    public const int ConflictRetryAfterSeconds = 1;

    /// <summary>503 for a write that may or may not have been applied: the one answer that tells the caller to read before retrying.</summary>
    public static ProblemHttpResult OutcomeUnknown(string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable, type: ProblemTypes.OutcomeUnknown, title: "Outcome unknown", detail: detail);

    private static void RetryAfter(HttpContext http, int seconds) =>
        http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
