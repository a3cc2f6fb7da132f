using Microsoft.Extensions.Configuration;
using OrleansCompute.Observability;

namespace OrleansCompute.Tests.Unit;

/// <summary>The pure parts of observability: masking secrets in log text, and Prometheus-style label names.</summary>
public class ObservabilityLogicTests
{
    private static SecretMask Mask(Dictionary<string, string?> settings) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

    [Fact]
    public void Configured_secrets_are_masked_wherever_they_appear()
    {
        var mask = Mask(new()
        {
            ["Auth:AdminKey"] = "admin-secret-123456",
            ["ConnectionStrings:Postgres"] = "Host=db;Username=oc;Password=pg-secret-987",
            ["Encryption:Keys:k1"] = "c2VjcmV0LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGVzIQ==",
        });

        var text = mask.Apply("admin admin-secret-123456, pg pg-secret-987, enc c2VjcmV0LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGVzIQ==");

        Assert.Equal("admin ***, pg ***, enc ***", text);
    }

    [Theory]
    [InlineData("key oc_0a1b2c3d4e5f6a7b_Zm9vYmFyYmF6cXV4cXV1eHh5enp6 used", "key oc_0a1b2c3d4e5f6a7b_*** used")]
    [InlineData("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***")]
    [InlineData("Host=x;Password=hunter2;Database=y", "Host=x;Password=***;Database=y")]
    [InlineData("nothing secret here", "nothing secret here")]
    public void Secret_shapes_are_masked_without_configuration(string text, string masked) =>
        Assert.Equal(masked, Mask([]).Apply(text));

    [Theory]
    [InlineData("ConnectionDirection", "connection_direction")]
    [InlineData("MessageDirection", "message_direction")]
    [InlineData("already_snake", "already_snake")]
    [InlineData("OutcomeUnknown", "outcome_unknown")]
    [InlineData("SiloAddress", "silo_address")]
    public void Label_names_become_snake_case(string name, string snake) =>
        Assert.Equal(snake, OrleansInstrumentBridge.SnakeCase(name));
}

/// <summary>The Orleans dashboard has no authentication: by default it answers this machine only.</summary>
public class DashboardExposureTests
{
    private static Microsoft.AspNetCore.Http.DefaultHttpContext Request(string path, string remote)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Request.Path = path;
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse(remote);
        return context;
    }

    [Theory]
    [InlineData("/dashboard", "127.0.0.1", false, true)]
    [InlineData("/dashboard/index.html", "::1", false, true)]
    [InlineData("/dashboard", "10.1.2.3", false, false)]
    [InlineData("/dashboard/api/cluster", "192.168.0.9", false, false)]
    [InlineData("/dashboard", "10.1.2.3", true, true)]
    [InlineData("/metrics", "10.1.2.3", false, true)]
    [InlineData("/health/ready", "10.1.2.3", false, true)]
    public void Dashboard_answers_remote_clients_only_when_allowed(string path, string remote, bool allowRemote, bool answers) =>
        Assert.Equal(answers, OrleansCompute.Silo.Observability.SiloTelemetry.DashboardAnswers(Request(path, remote), allowRemote));
}
