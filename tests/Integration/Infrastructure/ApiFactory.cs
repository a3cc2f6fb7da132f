using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>The real Api, hosted in-process, configured to find its cluster like a deployed one.</summary>
public sealed class ApiFactory(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(
            new Dictionary<string, string?>(settings)
            {
                ["Logging:LogLevel:Default"] = "Warning",
            }));
    }

    /// <summary>Waits until the Api says it is connected to the cluster.</summary>
    public async Task<HttpClient> CreateReadyClientAsync(TimeSpan? timeout = null)
    {
        var client = CreateClient();
        await Eventually.WaitAsync(
            async () => (await client.GetAsync("/health/ready")).IsSuccessStatusCode,
            timeout ?? TimeSpan.FromSeconds(60),
            "the Api to connect to the cluster");
        return client;
    }
}
