using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Coordination;

/// <summary>Fresh tenants with keys of chosen scopes, so coordination tests never share resources.</summary>
public static class Tenants
{
    /// <summary>A client for a new tenant whose key holds <paramref name="scopes"/> (a JSON array).</summary>
    public static async Task<HttpClient> ClientAsync(SharedClusterFixture fixture, string scopes, ApiFactory? api = null) =>
        (api ?? fixture.Cluster.Api).CreateClientWithKey((await KeyAsync(fixture, scopes)).Key);

    /// <summary>A new tenant and a key of it holding <paramref name="scopes"/> (a JSON array), to use through any Api.</summary>
    public static async Task<(string Tenant, string Key)> KeyAsync(SharedClusterFixture fixture, string scopes)
    {
        var tenant = $"t{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.Created, (await fixture.Http.PostAsync("/v1/admin/tenants", CoordClient.Json($"{{\"name\": \"{tenant}\"}}"))).StatusCode);
        var response = await fixture.Http.PostAsync($"/v1/admin/tenants/{tenant}/keys", CoordClient.Json($"{{\"name\": \"test\", \"scopes\": {scopes}}}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (tenant, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!);
    }
}
