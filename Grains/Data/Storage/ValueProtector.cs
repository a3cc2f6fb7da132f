using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace OrleansCompute.Grains.Data.Storage;

/// <summary>Encryption keys for values at rest (configuration section <c>Encryption</c>).</summary>
public sealed class EncryptionOptions
{
    /// <summary>The id of the key new values are encrypted with.</summary>
    public string? ActiveKey { get; set; }

    /// <summary>Key id to base64 of 32 random bytes. Keep retired keys here while values written with them remain.</summary>
    public Dictionary<string, string> Keys { get; set; } = [];
}

/// <summary>
/// AES-256-GCM for values of encrypted tables. Each stored value carries the id of the key that
/// sealed it, so keys rotate by adding a key and making it active: old values stay readable, new
/// writes use the new key. The table id and the key name are authenticated with the value, so a
/// sealed value cannot be moved to another key or table unnoticed.
/// Layout: version (1) | key id length (1) | key id | nonce (12) | tag (16) | ciphertext.
/// </summary>
public sealed class ValueProtector
{
    private const byte FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly Dictionary<string, byte[]> _keys;
    private readonly string? _activeKey;

    public ValueProtector(IOptions<EncryptionOptions> options)
    {
        _keys = options.Value.Keys.ToDictionary(k => k.Key, k => DecodeKey(k.Key, k.Value), StringComparer.Ordinal);
        _activeKey = options.Value.ActiveKey;
        if (_activeKey is not null && !_keys.ContainsKey(_activeKey))
        {
            throw new InvalidOperationException($"Encryption:ActiveKey '{_activeKey}' is not one of Encryption:Keys.");
        }

        if (_activeKey is { Length: > 255 })
        {
            throw new InvalidOperationException("Encryption key ids are at most 255 bytes.");
        }
    }

    /// <summary>True when new values can be encrypted.</summary>
    public bool IsConfigured => _activeKey is not null;

    public byte[] Protect(ReadOnlySpan<byte> plaintext, Guid tableId, string key)
    {
        var keyId = _activeKey ?? throw new InvalidOperationException("No encryption key is configured (Encryption:ActiveKey).");
        var id = Encoding.UTF8.GetBytes(keyId);
        var sealedValue = new byte[2 + id.Length + NonceSize + TagSize + plaintext.Length];
        sealedValue[0] = FormatVersion;
        sealedValue[1] = (byte)id.Length;
        id.CopyTo(sealedValue, 2);
        var nonce = sealedValue.AsSpan(2 + id.Length, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_keys[keyId], TagSize);
        aes.Encrypt(nonce, plaintext, sealedValue.AsSpan(2 + id.Length + NonceSize + TagSize), sealedValue.AsSpan(2 + id.Length + NonceSize, TagSize), Aad(tableId, key));
        return sealedValue;
    }

    public byte[] Unprotect(ReadOnlySpan<byte> sealedValue, Guid tableId, string key)
    {
        if (sealedValue.Length < 2 || sealedValue[0] != FormatVersion || sealedValue.Length < 2 + sealedValue[1] + NonceSize + TagSize)
        {
            throw new CryptographicException($"The stored value of '{key}' is not an encrypted value of this format.");
        }

        var keyId = Encoding.UTF8.GetString(sealedValue.Slice(2, sealedValue[1]));
        if (!_keys.TryGetValue(keyId, out var secret))
        {
            throw new CryptographicException($"The value of '{key}' was encrypted with key '{keyId}', which is not configured (Encryption:Keys).");
        }

        var offset = 2 + sealedValue[1];
        var plaintext = new byte[sealedValue.Length - offset - NonceSize - TagSize];
        using var aes = new AesGcm(secret, TagSize);
        aes.Decrypt(sealedValue.Slice(offset, NonceSize), sealedValue[(offset + NonceSize + TagSize)..], sealedValue.Slice(offset + NonceSize, TagSize), plaintext, Aad(tableId, key));
        return plaintext;
    }

    /// <summary>The key id a sealed value names (for operators and tests).</summary>
    public static string KeyIdOf(ReadOnlySpan<byte> sealedValue) => Encoding.UTF8.GetString(sealedValue.Slice(2, sealedValue[1]));

    private static byte[] Aad(Guid tableId, string key)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var aad = new byte[16 + keyBytes.Length];
        tableId.TryWriteBytes(aad);
        keyBytes.CopyTo(aad, 16);
        return aad;
    }

    private static byte[] DecodeKey(string id, string base64)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"Encryption:Keys:{id} is not base64.");
        }

        return key.Length == 32 ? key : throw new InvalidOperationException($"Encryption:Keys:{id} must be 32 bytes (AES-256); it is {key.Length}.");
    }
}
