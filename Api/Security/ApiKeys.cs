using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace OrleansCompute.Api.Security;

/// <summary>
/// The key format: <c>oc_&lt;id&gt;_&lt;secret&gt;</c>. The id is public (it names the key in
/// listings and logs); the secret is 256 random bits, shown once and stored only as its SHA-256.
/// </summary>
public static class ApiKeys
{
    private const string Prefix = "oc_";

    /// <summary>A new key: its id, the full key to hand out once, and the hash to store.</summary>
    public static (string Id, string Key, byte[] SecretHash) Generate(string? id = null)
    {
        id ??= Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (id, $"{Prefix}{id}_{secret}", Hash(secret));
    }

    /// <summary>Splits a presented key; false when it is not of this format.</summary>
    public static bool TryParse(string presented, out string id, out string secret)
    {
        id = secret = "";
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var separator = presented.IndexOf('_', Prefix.Length);
        if (separator <= Prefix.Length || separator == presented.Length - 1)
        {
            return false;
        }

        id = presented[Prefix.Length..separator];
        secret = presented[(separator + 1)..];
        return true;
    }

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>Compares in constant time, so timing does not reveal how much of a hash matched.</summary>
    public static bool Matches(string secret, byte[] storedHash) => CryptographicOperations.FixedTimeEquals(Hash(secret), storedHash);
}
