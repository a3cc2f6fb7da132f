using Microsoft.AspNetCore.Http.Features;
using OrleansCompute.Api.Errors;

namespace OrleansCompute.Api.Conventions;

/// <summary>
/// Rules every /v1 request follows, checked once before any handler. A body is JSON: an endpoint
/// that reads a typed body takes <c>application/json</c> (or a <c>+json</c> type), and a body sent
/// with no content type is read as JSON; anything else is a 415 that says so. Key values are read
/// raw, so a key put takes any content type. A list pages with <c>after</c>; <c>cursor</c>, the name
/// other APIs use, is refused rather than silently ignored. And a key means the same whichever way
/// its characters are encoded: the server keeps <c>%2F</c> encoded in the path it routes on, so the
/// key is decoded once from the request's raw target, where <c>x/y</c>, <c>x%2Fy</c> and
/// <c>x%2fy</c> are all the key <c>x/y</c>, and <c>%25</c> is a literal <c>%</c>.
/// </summary>
public static class RequestConventions
{
    /// <summary>Before routing: a body without a content type is JSON (routing refuses other types with a 415).</summary>
    public static void UseJsonByDefault(this WebApplication app) => app.Use((http, next) =>
    {
        var request = http.Request;
        if (string.IsNullOrEmpty(request.ContentType) && request.Path.StartsWithSegments("/v1")
            && (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method) || HttpMethods.IsPatch(request.Method)))
        {
            request.ContentType = "application/json";
        }

        return next(http);
    });

    /// <summary>After routing: refuse <c>cursor</c>, and decode the key once.</summary>
    public static void UseRequestConventions(this WebApplication app) => app.Use(async (http, next) =>
    {
        if (http.Request.Path.StartsWithSegments("/v1"))
        {
            if (http.Request.Query.ContainsKey("cursor"))
            {
                await Problems.Invalid("cursor", "is not a parameter of this Api: lists page with 'after', set to the 'next' of the previous page.")
                    .ExecuteAsync(http);
                return;
            }

            DecodeKey(http);
        }

        await next(http);
    });

    /// <summary>
    /// The problem answers the framework writes itself (no route, wrong method, wrong content type)
    /// name an RFC and say nothing; these say, in the Api's own types, what happened and what to do.
    /// </summary>
    public static void DescribeFrameworkAnswers(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Type?.StartsWith("urn:orleans-compute:", StringComparison.Ordinal) == true)
        {
            return;
        }

        var request = context.HttpContext.Request;
        (problem.Type, problem.Title, problem.Detail) = problem.Status switch
        {
            StatusCodes.Status404NotFound => (ProblemTypes.NotFound, "Not found",
                $"No endpoint answers {request.Method} {request.Path}; /swagger lists the ones there are."),
            StatusCodes.Status405MethodNotAllowed => (ProblemTypes.MethodNotAllowed, "Method not allowed",
                $"{request.Path} does not take {request.Method}; the Allow header lists what it takes."),
            StatusCodes.Status415UnsupportedMediaType => (ProblemTypes.UnsupportedMediaType, "Unsupported content type",
                $"The body must be JSON: send 'Content-Type: application/json' (or none), not '{request.ContentType}'."),
            _ => (problem.Type, problem.Title, problem.Detail ?? problem.Title),
        };
    }

    private static void DecodeKey(HttpContext http)
    {
        if (!http.Request.RouteValues.ContainsKey("key"))
        {
            return;
        }

        // Kestrel gives the target as sent. A host without one (the in-memory test server) has only
        // the path, where everything but %2F is decoded already.
        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
        var path = string.IsNullOrEmpty(raw) ? http.Request.Path.Value ?? "" : raw.Split('?', 2)[0];
        var marker = path.StartsWith("/v1/tables/", StringComparison.Ordinal) ? path.IndexOf("/keys/", "/v1/tables/".Length, StringComparison.Ordinal) : -1;
        if (marker < 0)
        {
            return;
        }

        var key = path[(marker + "/keys/".Length)..];
        http.Request.RouteValues["key"] = string.IsNullOrEmpty(raw)
            ? key.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase)
            : Uri.UnescapeDataString(key);
    }
}
