using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OrleansCompute.Api.Errors;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Api.Security;

/// <summary>
/// Authentication, one authorization policy per scope, and the per-key rate limit. Every /v1
/// endpoint requires a scope (the group demands an authenticated caller, and each endpoint adds
/// its scope); health and Swagger need no key.
/// </summary>
public static class SecuritySetup
{
    public const string PerKeyRateLimit = "per-key";

    public static void AddApiSecurity(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.Configure<AuthOptions>(configuration.GetSection("Auth"));
        builder.Services.AddSingleton<ApiKeyVerifier>();
        builder.Services.AddHostedService<BootstrapAdminKeyService>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder().AddScopePolicies();

        builder.Services.Configure<RateLimitOptions>(configuration.GetSection("RateLimit"));
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(PerKeyRateLimit, http => RateLimitPartition.GetTokenBucketLimiter(
                // One bucket per key: one key's traffic never drains another's.
                http.User.FindFirstValue(CallerIdentity.KeyIdClaim) ?? $"anonymous:{http.Connection.RemoteIpAddress}",
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = PerSecond(http),
                    TokensPerPeriod = Math.Max(1, PerSecond(http) / 10),
                    ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                }));
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context.HttpContext,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Type = ProblemTypes.TooManyRequests,
                        Title = "Too many requests",
                        Detail = $"This API key may make {PerSecond(context.HttpContext)} requests per second. Retry after {retryAfter} s.",
                    },
                });
            };
        });
    }

    /// <summary>
    /// Refuses to start when an endpoint under <paramref name="prefix"/> requires no scope, so an
    /// endpoint added later cannot be open to every key by omission.
    /// </summary>
    public static void EnsureEveryEndpointNamesAScope(IEndpointRouteBuilder endpoints, string prefix)
    {
        var open = endpoints.DataSources
            .SelectMany(source => source.Endpoints)
            .OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith(prefix, StringComparison.Ordinal) == true)
            .Where(e => !e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy is { } policy && Scopes.All.Contains(policy)))
            .Select(e => e.DisplayName)
            .ToList();
        if (open.Count > 0)
        {
            throw new InvalidOperationException($"Every {prefix} endpoint must require a scope; these do not: {string.Join(", ", open)}");
        }
    }

    private static int PerSecond(HttpContext http) =>
        Math.Max(1, http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value.RequestsPerSecond);

    /// <summary>Requires <paramref name="scope"/> of the caller.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope)
        where TBuilder : IEndpointConventionBuilder => builder.RequireAuthorization(scope);

    private static AuthorizationBuilder AddScopePolicies(this AuthorizationBuilder authorization)
    {
        foreach (var scope in Scopes.All)
        {
            authorization.AddPolicy(scope, policy => policy.RequireAuthenticatedUser().RequireClaim(CallerIdentity.ScopeClaim, scope));
        }

        return authorization;
    }
}

/// <summary>The per-key request rate (configuration section <c>RateLimit</c>).</summary>
public sealed class RateLimitOptions
{
    public int RequestsPerSecond { get; set; } = 1000;
}
