using System.Data.Common;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace OrleansCompute.Observability;

/// <summary>
/// Masks secrets in text bound for the logs: the configured admin key, encryption keys and
/// connection-string passwords wherever they appear, and anything shaped like an API key, a bearer
/// token or a password in a connection string.
/// </summary>
public sealed partial class SecretMask
{
    /// <summary>What a masked secret reads as.</summary>
    public const string Mask = "***";

    private readonly string[] _configured;

    /// <summary>Reads the secrets this process was configured with.</summary>
    public SecretMask(IConfiguration configuration)
    {
        var secrets = new List<string>();
        if (configuration["Auth:AdminKey"] is { Length: > 0 } admin)
        {
            secrets.Add(admin);
        }

        foreach (var key in configuration.GetSection("Encryption:Keys").GetChildren())
        {
            if (key.Value is { Length: > 0 } value)
            {
                secrets.Add(value);
            }
        }

        foreach (var connection in configuration.GetSection("ConnectionStrings").GetChildren())
        {
            if (PasswordOf(connection.Value) is { Length: > 0 } password)
            {
                secrets.Add(password);
            }
        }

        // Longest first, so a secret that contains another is masked whole.
        _configured = [.. secrets.Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length)];
    }

    /// <summary>The text with every secret masked; null stays null.</summary>
    public string? Apply(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        foreach (var secret in _configured)
        {
            text = text.Replace(secret, Mask, StringComparison.Ordinal);
        }

        text = ApiKey().Replace(text, "oc_$1_" + Mask);
        text = Bearer().Replace(text, "Bearer " + Mask);
        return Password().Replace(text, "$1=" + Mask);
    }

    private static string? PasswordOf(string? connectionString)
    {
        if (string.IsNullOrEmpty(connectionString))
        {
            return null;
        }

        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
            return builder.TryGetValue("Password", out var password) || builder.TryGetValue("Pwd", out password) ? password?.ToString() : null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    // oc_<id>_<secret>: the id may be logged (it names the key), the secret never.
    [GeneratedRegex(@"\boc_([0-9A-Za-z]+)_[A-Za-z0-9_\-]{16,}")]
    private static partial Regex ApiKey();

    [GeneratedRegex(@"Bearer\s+[^\s""',;]+", RegexOptions.IgnoreCase)]
    private static partial Regex Bearer();

    [GeneratedRegex(@"\b(Password|Pwd)\s*=\s*[^;""']*", RegexOptions.IgnoreCase)]
    private static partial Regex Password();
}
