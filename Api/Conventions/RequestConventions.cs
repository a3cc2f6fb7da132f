using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Net.Http.Headers;
using OrleansCompute.Api.Errors;

namespace OrleansCompute.Api.Conventions;

/// <summary>
/// Rules every /v1 request follows, checked once before any handler. A body is JSON: an endpoint
/// that reads a typed body takes <c>application/json</c> (or a <c>+json</c> type), and a body sent
/// with no content type is read as JSON; anything else is a 415 that says so. Key values are read
/// raw, so a key put takes any content type. A list pages with <c>after</c>; <c>cursor</c>, the name
/// other APIs use, is refused rather than silently ignored.
/// </summary>
public static class RequestConventions
{
    public static void UseRequestConventions(this WebApplication app) => app.Use(async (http, next) =>
    {
        if (http.Request.Path.StartsWithSegments("/v1") && await RefuseAsync(http))
        {
            return;
        }

        await next(http);
    });

    private static async Task<bool> RefuseAsync(HttpContext http)
    {
        var request = http.Request;
        if (request.Query.ContainsKey("cursor"))
        {
            await Results.Problem(new Microsoft.AspNetCore.Mvc.ValidationProblemDetails(new Dictionary<string, string[]>
            {
                ["cursor"] = ["is not a parameter of this Api: lists page with 'after', set to the 'next' of the previous page."],
            })
            {
                Status = StatusCodes.Status400BadRequest,
                Type = ProblemTypes.Validation,
                Title = "Invalid request",
            }).ExecuteAsync(http);
            return true;
        }

        var readsJson = http.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>() is { } accepts
            && accepts.ContentTypes.Any(IsJson);
        if (!readsJson)
        {
            return false;
        }

        if (string.IsNullOrEmpty(request.ContentType))
        {
            request.ContentType = "application/json";
            return false;
        }

        if (IsJson(request.ContentType))
        {
            return false;
        }

        await Results.Problem(
            statusCode: StatusCodes.Status415UnsupportedMediaType,
            type: ProblemTypes.UnsupportedMediaType,
            title: "Unsupported content type",
            detail: $"The body must be JSON: send 'Content-Type: application/json' (or none), not '{request.ContentType}'.").ExecuteAsync(http);
        return true;
    }

    private static bool IsJson(string contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
}
