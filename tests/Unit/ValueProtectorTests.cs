using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OrleansCompute.Grains.Data.Storage;

namespace OrleansCompute.Tests.Unit;

public class ValueProtectorTests
{
    private static readonly string KeyOne = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string KeyTwo = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static ValueProtector Protector(string? active, params (string Id, string Key)[] keys) =>
        new(Options.Create(new EncryptionOptions { ActiveKey = active, Keys = keys.ToDictionary(k => k.Id, k => k.Key) }));

    [Fact]
    public void Round_trips_and_names_its_key()
    {
        var protector = Protector("k1", ("k1", KeyOne));
        var table = Guid.NewGuid();

        var sealedValue = protector.Protect("{\"a\":1}"u8, table, "key");

        Assert.Equal("k1", ValueProtector.KeyIdOf(sealedValue));
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(protector.Unprotect(sealedValue, table, "key")));
        Assert.NotEqual(sealedValue, protector.Protect("{\"a\":1}"u8, table, "key"));
    }

    [Fact]
    public void A_value_moved_to_another_key_or_table_or_tampered_with_does_not_decrypt()
    {
        var protector = Protector("k1", ("k1", KeyOne));
        var table = Guid.NewGuid();
        var sealedValue = protector.Protect("secret"u8, table, "a");
        var tampered = (byte[])sealedValue.Clone();
        tampered[^1] ^= 1;

        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(sealedValue, table, "b"));
        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(sealedValue, Guid.NewGuid(), "a"));
        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(tampered, table, "a"));
    }

    [Fact]
    public void Rotation_reads_old_values_and_writes_with_the_new_key()
    {
        var table = Guid.NewGuid();
        var old = Protector("k1", ("k1", KeyOne)).Protect("v"u8, table, "k");
        var rotated = Protector("k2", ("k1", KeyOne), ("k2", KeyTwo));

        Assert.Equal("v", Encoding.UTF8.GetString(rotated.Unprotect(old, table, "k")));
        Assert.Equal("k2", ValueProtector.KeyIdOf(rotated.Protect("v"u8, table, "k")));
        Assert.ThrowsAny<CryptographicException>(() => Protector("k2", ("k2", KeyTwo)).Unprotect(old, table, "k"));
    }

    [Theory]
    [InlineData("k9", "AAAA")]
    [InlineData("k1", "not base64!")]
    [InlineData("k1", "AAAA")]
    public void Bad_configuration_stops_the_silo_with_a_clear_message(string active, string key)
    {
        Assert.Throws<InvalidOperationException>(() => Protector(active, ("k1", key)));
    }
}
