namespace OrleansCompute.Api.Errors;

/// <summary>The <c>type</c> URIs of the Api's problem answers (RFC 9457), one per kind of failure.</summary>
public static class ProblemTypes
{
    private const string Prefix = "urn:orleans-compute:problem:";

    public const string Validation = Prefix + "validation";
    public const string NotFound = Prefix + "not-found";
    public const string Conflict = Prefix + "conflict";
    public const string PreconditionFailed = Prefix + "precondition-failed";
    public const string OutcomeUnknown = Prefix + "outcome-unknown";
    public const string DeadlineExceeded = Prefix + "deadline-exceeded";
    public const string TransactionConflict = Prefix + "transaction-conflict";
    public const string BodyTooLarge = Prefix + "body-too-large";
    public const string BadRequest = Prefix + "bad-request";
    public const string MethodNotAllowed = Prefix + "method-not-allowed";
    public const string UnsupportedMediaType = Prefix + "unsupported-media-type";
    public const string ClusterUnavailable = Prefix + "cluster-unavailable";
    public const string Internal = Prefix + "internal";
    public const string Unauthorized = Prefix + "unauthorized";
    public const string Forbidden = Prefix + "forbidden";
    public const string TooManyRequests = Prefix + "too-many-requests";
    public const string QuotaExceeded = Prefix + "quota-exceeded";
    public const string LeaseNotFound = Prefix + "lease-not-found";
    public const string LockHeld = Prefix + "lock-held";
    public const string NotLeader = Prefix + "not-leader";
    public const string Fenced = Prefix + "fenced";
    public const string Compacted = Prefix + "compacted";
}
