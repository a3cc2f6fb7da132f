using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>Submitting and following jobs through the REST API.</summary>
public static class JobClient
{
    public static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static async Task<HttpResponseMessage> PostJobAsync(this HttpClient http, string spec, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = Json(spec) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await http.SendAsync(request);
    }

    /// <summary>Submits a job that must be accepted; returns its id.</summary>
    public static async Task<string> SubmitAsync(this HttpClient http, string spec)
    {
        var response = await http.PostJobAsync(spec);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    public static Task<JsonElement> JobAsync(this HttpClient http, string id) => http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}");

    public static async Task<JsonElement[]> TasksAsync(this HttpClient http, string id) =>
        (await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}/tasks?limit=1000")).GetProperty("items").EnumerateArray().ToArray();

    public static string Status(this JsonElement job) => job.GetProperty("status").GetString()!;

    public static int Progress(this JsonElement job, string field) => job.GetProperty("progress").GetProperty(field).GetInt32();

    /// <summary>Waits until the job is succeeded, failed or cancelled, and returns it.</summary>
    public static async Task<JsonElement> WaitForEndAsync(this HttpClient http, string id, TimeSpan? timeout = null)
    {
        JsonElement job = default;
        await Eventually.WaitAsync(async () =>
        {
            job = await http.JobAsync(id);
            return job.Status() is "succeeded" or "failed" or "cancelled";
        }, timeout ?? JobTimeout, $"job {id} to end");
        return job;
    }

    /// <summary>A new tenant and a client with a key for it holding <paramref name="scopes"/>.</summary>
    public static async Task<HttpClient> TenantClientAsync(this HttpClient admin, ApiFactory api, string scopes = "[\"data:read\", \"data:write\", \"jobs\"]")
    {
        var tenant = $"t{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/v1/admin/tenants", Json($"{{\"name\": \"{tenant}\"}}"))).StatusCode);
        var issued = await admin.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json($"{{\"name\": \"test\", \"scopes\": {scopes}}}"));
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        return api.CreateClientWithKey((await issued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!);
    }
}
