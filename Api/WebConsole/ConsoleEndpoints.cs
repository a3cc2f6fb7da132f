using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace OrleansCompute.Api.WebConsole;

/// <summary>
/// The web console at <c>/console</c>: static files embedded in the Api assembly, so the Release
/// build, the container image and <c>deploy/local/up.sh</c> serve the same console without a copy
/// step. The files need no key (like Swagger); the page signs in with an API key and calls the
/// public <c>/v1</c> API with it, so scopes and tenants apply to whoever uses it.
/// </summary>
public static class ConsoleEndpoints
{
    public const string Path = "/console";

    /// <summary>
    /// Sent with every console file. The console is plain ES modules and one style sheet from this
    /// origin: no inline script or style, no eval, no frames, no plugins, no forms posted elsewhere.
    /// A page that cannot run injected script cannot leak the key kept in its sessionStorage.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static readonly Lazy<FrozenDictionary<string, ConsoleFile>> Files = new(Load);

    public static void MapConsole(this WebApplication app)
    {
        // The catch-all also matches the bare /console.
        app.MapGet(Path + "/{**file}", (string? file, HttpContext http) => Serve(file, http))
            .ExcludeFromDescription();
    }

    private static IResult Serve(string? file, HttpContext http)
    {
        // Relative module and style URLs resolve against /console/, so the bare path redirects there.
        if (string.IsNullOrEmpty(file) && !http.Request.Path.Value!.EndsWith('/'))
        {
            return Results.Redirect(Path + "/" + http.Request.QueryString);
        }

        var name = string.IsNullOrEmpty(file) ? "index.html" : file;
        AddSecurityHeaders(http.Response.Headers);
        if (!Files.Value.TryGetValue(name, out var found))
        {
            return Results.NotFound();
        }

        // Revalidated on every load: an upgraded Api serves its own console, never a cached older one.
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers.ETag = found.ETag;
        return http.Request.Headers.IfNoneMatch.ToString() == found.ETag
            ? Results.StatusCode(StatusCodes.Status304NotModified)
            : Results.Bytes(found.Content, found.ContentType);
    }

    private static void AddSecurityHeaders(IHeaderDictionary headers)
    {
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
    }

    // The csproj names each embedded file console/<path under site/>.
    private static FrozenDictionary<string, ConsoleFile> Load()
    {
        var assembly = typeof(ConsoleEndpoints).Assembly;
        const string prefix = "console/";
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .ToFrozenDictionary(n => n[prefix.Length..].Replace('\\', '/'), n => ConsoleFile.Read(assembly, n), StringComparer.Ordinal);
    }

    private sealed record ConsoleFile(byte[] Content, string ContentType, string ETag)
    {
        public static ConsoleFile Read(Assembly assembly, string resource)
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            return new ConsoleFile(content, ContentTypeOf(resource), $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }

        private static string ContentTypeOf(string name) => System.IO.Path.GetExtension(name) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".png" => "image/png",
            ".ico" => "image/x-icon",
            _ => "application/octet-stream",
        };
    }
}
