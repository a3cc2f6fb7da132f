using System.Diagnostics;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Errors;

namespace OrleansCompute.Api.Security;

/// <summary>
/// <c>Authorization: Bearer &lt;key&gt;</c>. A missing key is a 401 challenge; a bad, unknown or
/// revoked key is a 401 with the reason, and an audit log line with the key id (never the key).
/// A missing scope is a 403.
/// </summary>
public sealed partial class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiKeyVerifier verifier,
    IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";

    private const string FailureItem = "oc:auth-failure";

    private readonly ILogger _audit = loggerFactory.CreateLogger("OrleansCompute.Audit");

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= "Bearer ".Length)
        {
            return Fail(null, null, "The Authorization header must be 'Bearer <API key>'.");
        }

        var (caller, keyId, tenant, failure) = await verifier.VerifyAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        return caller is null
            ? Fail(keyId, tenant, failure!)
            : AuthenticateResult.Success(new AuthenticationTicket(caller.ToPrincipal(SchemeName), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        var detail = Context.Items[FailureItem] as string ?? "This endpoint needs an API key: send 'Authorization: Bearer <API key>'.";
        return WriteProblemAsync(StatusCodes.Status401Unauthorized, "Unauthorized", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        LogForbidden(_audit, Context.User.FindFirst(CallerIdentity.KeyIdClaim)?.Value, Context.User.FindFirst(CallerIdentity.TenantClaim)?.Value,
            Request.Method, Request.Path, Activity.Current?.TraceId.ToString() ?? Context.TraceIdentifier);
        // The endpoint's scope policies are named after the scopes; name those the key lacks.
        var missing = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>()
            .Select(a => a.Policy)
            .OfType<string>()
            .Where(scope => OrleansCompute.Tenancy.Scopes.All.Contains(scope) && !Context.User.HasClaim(CallerIdentity.ScopeClaim, scope))
            .Distinct()
            .ToList() ?? [];
        return WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden", missing.Count > 0
            ? $"The API key lacks the scope '{string.Join("', '", missing)}' that this endpoint requires; issue a key with it (POST /v1/admin/tenants/{{tenant}}/keys)."
            : "The API key does not have the scope this endpoint requires.");
    }

    private AuthenticateResult Fail(string? keyId, string? tenant, string reason)
    {
        Context.Items[FailureItem] = reason;
        LogAuthenticationFailed(_audit, keyId, tenant, reason, Request.Method, Request.Path, Activity.Current?.TraceId.ToString() ?? Context.TraceIdentifier);
        return AuthenticateResult.Fail(reason);
    }

    private async Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails
            {
                Status = status,
                Title = title,
                Detail = detail,
                Type = status == StatusCodes.Status401Unauthorized ? ProblemTypes.Unauthorized : ProblemTypes.Forbidden,
            },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Authentication failed: key {KeyId}, tenant {Tenant}: {Reason} ({Method} {Path}, trace {TraceId})")]
    private static partial void LogAuthenticationFailed(ILogger logger, string? keyId, string? tenant, string reason, string method, string path, string traceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forbidden: key {KeyId}, tenant {Tenant}, lacks the scope for {Method} {Path} (trace {TraceId})")]
    private static partial void LogForbidden(ILogger logger, string? keyId, string? tenant, string method, string path, string traceId);
}
