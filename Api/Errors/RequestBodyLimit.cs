namespace OrleansCompute.Api.Errors;

/// <summary>
/// Refuses bodies larger than <c>Api:MaxRequestBodyBytes</c> with 413 before they are read.
/// Kestrel enforces the same limit while streaming bodies of unknown length; this check answers
/// declared lengths at once, whichever server hosts the Api.
/// </summary>
public static class RequestBodyLimit
{
    public const long DefaultBytes = 2L * 1024 * 1024;

    public static long Bytes(IConfiguration configuration) => configuration.GetValue("Api:MaxRequestBodyBytes", DefaultBytes);

    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app, long limit) =>
        app.Use((context, next) => context.Request.ContentLength > limit
            ? throw new BadHttpRequestException(
                $"The request body is {context.Request.ContentLength} bytes; the limit is {limit} bytes.",
                StatusCodes.Status413PayloadTooLarge)
            : next(context));
}
