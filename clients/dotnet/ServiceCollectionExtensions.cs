using Microsoft.Extensions.DependencyInjection;
using Polly;

namespace OrleansCompute.Client;

/// <summary>Where the Api is and which key to act with.</summary>
public sealed class OrleansComputeClientOptions
{
    public Uri BaseAddress { get; set; } = new("http://127.0.0.1:5000/");

    public string ApiKey { get; set; } = "";

    /// <summary>How many times a request that may be repeated is sent again (see <see cref="Retries"/>).</summary>
    public int MaxRetries { get; set; } = 4;
}

public static class ServiceCollectionExtensions
{
    /// <summary>Registers <see cref="OrleansComputeClient"/> as a typed client of <c>IHttpClientFactory</c>, with the SDK's retries.</summary>
    public static IHttpClientBuilder AddOrleansComputeClient(this IServiceCollection services, Action<OrleansComputeClientOptions> configure)
    {
        var options = new OrleansComputeClientOptions();
        configure(options);
        var builder = services.AddHttpClient<OrleansComputeClient>(http =>
        {
            http.BaseAddress = options.BaseAddress;
            http.Timeout = Timeout.InfiniteTimeSpan;
            http.DefaultRequestHeaders.Authorization = new("Bearer", options.ApiKey);
        });
        builder.AddResilienceHandler("orleans-compute", pipeline => pipeline.AddRetry(Retries.Options(options.MaxRetries)));
        return builder;
    }
}
