using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrleansCompute.Tests.Coordination;

/// <summary>The coordination REST calls the tests make, each asserting nothing but returning what came back.</summary>
public static class CoordClient
{
    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>Grants a lease and returns its id and the instant (test clock) the grant was answered.</summary>
    public static async Task<(string Id, Stopwatch Since)> GrantAsync(this HttpClient http, int ttlSeconds)
    {
        var response = await http.PostAsync("/v1/leases", Json($"{{\"ttlSeconds\": {ttlSeconds}}}"));
        var since = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return ((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!, since);
    }

    public static Task<HttpResponseMessage> KeepAliveAsync(this HttpClient http, string lease) =>
        http.PostAsync($"/v1/leases/{lease}/keepalive", null);

    public static Task<HttpResponseMessage> AcquireAsync(this HttpClient http, string name, string lease, int waitSeconds, CancellationToken cancellationToken = default) =>
        http.PostAsync($"/v1/locks/{name}", Json($"{{\"lease\": \"{lease}\", \"waitSeconds\": {waitSeconds}}}"), cancellationToken);

    /// <summary>Acquires and returns the token; fails the test unless granted.</summary>
    public static async Task<long> TokenAsync(this HttpClient http, string name, string lease, int waitSeconds = 0)
    {
        var response = await http.AcquireAsync(name, lease, waitSeconds);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"acquire {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var grant = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((name, lease), (grant.GetProperty("name").GetString(), grant.GetProperty("lease").GetString()));
        return grant.GetProperty("token").GetInt64();
    }

    public static Task<HttpResponseMessage> ReleaseAsync(this HttpClient http, string name, long token) =>
        http.DeleteAsync($"/v1/locks/{name}?token={token}");

    /// <summary>The lock's holder (lease, token) or null, and how many wait.</summary>
    public static async Task<((string Lease, long Token)? Holder, int Waiters)> LockAsync(this HttpClient http, string name)
    {
        var view = await http.GetFromJsonAsync<JsonElement>($"/v1/locks/{name}");
        var holder = view.GetProperty("holder");
        return (holder.ValueKind == JsonValueKind.Null ? null : (holder.GetProperty("lease").GetString()!, holder.GetProperty("token").GetInt64()),
            view.GetProperty("waiters").GetInt32());
    }

    public static string LockName(string prefix = "l") => $"{prefix}/{Guid.NewGuid():N}"[..30];
}
