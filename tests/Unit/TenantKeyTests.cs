using OrleansCompute.Tenancy;

namespace OrleansCompute.Tests.Unit;

public class TenantKeyTests
{
    [Fact]
    public void Same_name_in_two_tenants_gives_two_keys()
    {
        Assert.NotEqual(TenantKey.For("acme", "orders"), TenantKey.For("globex", "orders"));
    }

    [Fact]
    public void Key_round_trips_through_parse()
    {
        var key = TenantKey.For("acme", "orders/2024");

        Assert.Equal(("acme", "orders/2024"), TenantKey.Parse(key));
    }

    [Fact]
    public void Tenant_cannot_smuggle_a_separator()
    {
        Assert.Throws<ArgumentException>(() => TenantKey.For("acme/evil", "orders"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/orders")]
    [InlineData("acme/")]
    [InlineData("no-separator")]
    public void Parse_rejects_keys_it_did_not_make(string key)
    {
        Assert.Throws<FormatException>(() => TenantKey.Parse(key));
    }
}
