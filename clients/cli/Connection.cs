using System.Text.Json;

namespace OrleansCompute.Cli;

/// <summary>
/// Where occtl sends requests and with which key: a flag wins over the environment (<c>OC_URL</c>,
/// <c>OC_KEY</c>), which wins over the profile file (<c>OC_CONFIG</c>, else ~/.config/occtl/config.json).
/// </summary>
public sealed record Connection(Uri Url, string Key)
{
    public const string DefaultUrl = "http://127.0.0.1:5000";

    public static Connection Resolve(string? urlFlag, string? keyFlag, string? profileFlag, Func<string, string?> environment)
    {
        var profile = ReadProfile(environment, profileFlag ?? environment("OC_PROFILE") ?? "default");
        var url = urlFlag ?? environment("OC_URL") ?? profile?.Url ?? DefaultUrl;
        var key = keyFlag ?? environment("OC_KEY") ?? profile?.Key
            ?? throw new UsageException("No API key: pass --key, set OC_KEY, or add one to the profile file.");
        if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"'{url}' is not an http(s) URL.");
        }

        return new Connection(uri, key);
    }

    private static Profile? ReadProfile(Func<string, string?> environment, string name)
    {
        var path = environment("OC_CONFIG")
            ?? Path.Combine(environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config", "occtl", "config.json");
        if (!File.Exists(path))
        {
            return null;
        }

        ProfileFile? file;
        try
        {
            file = JsonSerializer.Deserialize<ProfileFile>(File.ReadAllText(path), JsonSerializerOptions.Web);
        }
        catch (JsonException e)
        {
            throw new UsageException($"The profile file {path} is not valid JSON: {e.Message}");
        }

        return file?.Profiles?.GetValueOrDefault(name);
    }

    private sealed record ProfileFile(Dictionary<string, Profile>? Profiles);

    private sealed record Profile(string? Url, string? Key);
}

/// <summary>A mistake in how occtl was called: exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
