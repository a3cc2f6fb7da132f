using System.Net;
using Microsoft.Extensions.Configuration;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Silo;

namespace OrleansCompute.Tests.Unit;

public class ConfigurationTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    [Fact]
    public void Silo_defaults_follow_the_contract()
    {
        var settings = SiloSettings.From(Config());

        Assert.True(settings.IsEmbedded);
        Assert.Equal(("dev", "orleans-compute"), (settings.ClusterId, settings.ServiceId));
        Assert.Equal((11111, 30000, 8081), (settings.SiloPort, settings.GatewayPort, settings.HealthPort));
        Assert.Equal(IPAddress.Loopback, settings.AdvertisedAddress);
        Assert.Equal("./data", settings.StoragePath);
    }

    [Fact]
    public void Connection_string_selects_postgres_mode()
    {
        var settings = SiloSettings.From(Config(("ConnectionStrings:Postgres", "Host=db;Database=orleans")));

        Assert.False(settings.IsEmbedded);
    }

    [Theory]
    [InlineData("Orleans:SiloPort", "eleven")]
    [InlineData("Orleans:GatewayPort", "70000")]
    [InlineData("Orleans:SiloPort", "0")]
    public void Bad_ports_stop_the_silo_with_a_clear_message(string key, string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => SiloSettings.From(Config((key, value))));

        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void Advertised_host_name_is_resolved()
    {
        var settings = SiloSettings.From(Config(("Orleans:AdvertisedIP", "localhost")));

        Assert.True(IPAddress.IsLoopback(settings.AdvertisedAddress));
    }

    [Fact]
    public void Gateways_parse_from_a_comma_list()
    {
        var gateways = ClusterClientHost.ParseGateways("127.0.0.1:30000, 127.0.0.1:30001");

        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 30000), new IPEndPoint(IPAddress.Loopback, 30001)], gateways);
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1")]
    [InlineData("gateway:30000")]
    public void Bad_gateway_lists_are_refused(string value)
    {
        Assert.Throws<InvalidOperationException>(() => ClusterClientHost.ParseGateways(value));
    }
}
