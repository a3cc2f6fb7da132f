using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Api;

/// <summary>Admin actions and authentication failures are audited with tenant, key id and trace id, never the key.</summary>
[Collection(SharedClusterCollection.Name)]
public class AuditLogTests(SharedClusterFixture fixture)
{
    [Fact]
    public async Task Admin_actions_and_failed_authentications_are_audited_without_the_key()
    {
        var logs = new CapturedLogs();
        await using var api = new ApiFactory(fixture.Cluster.Settings, logs);
        var admin = await api.CreateReadyClientAsync();
        var tenant = $"audit{Guid.NewGuid():N}"[..20];
        await admin.PostAsync("/v1/admin/tenants", Json($"{{\"name\": \"{tenant}\"}}"));
        var issued = await (await admin.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json("{\"name\": \"a\", \"scopes\": [\"data:read\"]}")))
            .Content.ReadFromJsonAsync<JsonElement>();
        var id = issued.GetProperty("id").GetString()!;
        var key = issued.GetProperty("key").GetString()!;
        using var forger = api.CreateClientWithKey(key[..^3] + "xyz");

        var refused = await forger.GetAsync("/v1/tables");
        await admin.DeleteAsync($"/v1/admin/tenants/{tenant}/keys/{id}");

        await AssertProblemAsync(refused, HttpStatusCode.Unauthorized);
        var audit = logs.Entries.Where(e => e.Category == "OrleansCompute.Audit").Select(e => e.Message).ToList();
        Assert.Contains(audit, m => m.Contains("create-tenant") && m.Contains(tenant) && m.Contains("trace"));
        Assert.Contains(audit, m => m.Contains("issue-key") && m.Contains(tenant) && m.Contains(id) && m.Contains("by key admin"));
        Assert.Contains(audit, m => m.Contains("revoke-key") && m.Contains(id));
        Assert.Contains(audit, m => m.Contains("Authentication failed") && m.Contains(id) && m.Contains(tenant) && m.Contains("trace"));
        var secret = key.Split('_', 3)[2];
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(secret[..20]) || e.Message.Contains(TestKeys.Admin));
    }
}
