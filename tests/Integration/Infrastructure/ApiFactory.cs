using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>The real Api, hosted in-process, configured to find its cluster like a deployed one.</summary>
public sealed class ApiFactory(IReadOnlyDictionary<string, string?> settings, CapturedLogs? logs = null) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        if (logs is not null)
        {
            builder.ConfigureLogging(logging => logging.AddProvider(logs));
        }

        builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(
            new Dictionary<string, string?>
            {
                ["Auth:AdminKey"] = TestKeys.Admin,
                ["Logging:LogLevel:Default"] = "Warning",
                ["Logging:LogLevel:OrleansCompute.Audit"] = "Information",
            }.Concat(settings).GroupBy(p => p.Key).Select(g => g.Last())));
    }

    // Every client the tests make acts with the bootstrap admin key unless the test says otherwise.
    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Admin);
    }

    /// <summary>A client that sends <paramref name="key"/>, or no key at all when null.</summary>
    public HttpClient CreateClientWithKey(string? key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = key is null ? null : new("Bearer", key);
        return client;
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
