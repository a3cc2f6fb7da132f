using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Api;

public class StartupTests
{
    [Fact]
    public void Postgres_mode_refuses_to_start_without_an_admin_key_and_says_so()
    {
        using var api = new ApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Database=unused",
            ["Auth:AdminKey"] = "",
        });

        var error = Assert.ThrowsAny<Exception>(() => api.CreateClient());

        Assert.Contains("Auth__AdminKey is required in PostgreSQL mode", error.ToString());
    }
}
