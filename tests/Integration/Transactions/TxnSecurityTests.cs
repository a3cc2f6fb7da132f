using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Transactions;

/// <summary>SPEC §4.2 with §7: transactions see only the caller's tenant, and writing needs data:write.</summary>
[Collection(SharedClusterCollection.Name)]
public class TxnSecurityTests(SharedClusterFixture fixture)
{
    private HttpClient Admin => fixture.Http;

    [Fact]
    public async Task Another_tenants_transactional_table_is_not_found_and_the_same_names_never_meet()
    {
        var acme = await ClientAsync(await NewTenantAsync(), "[\"data:read\", \"data:write\"]");
        var globex = await ClientAsync(await NewTenantAsync(), "[\"data:read\", \"data:write\"]");
        Assert.Equal(HttpStatusCode.Created, (await acme.PutAsync("/v1/tables/bank", Json("{\"transactional\": true, \"shards\": 2}"))).StatusCode);
        await acme.TxnOkAsync("""{"success":[{"op":"put","table":"bank","key":"alice","value":100}]}""");

        await AssertProblemAsync(await globex.TxnAsync("""{"success":[{"op":"get","table":"bank","key":"alice"}]}"""), HttpStatusCode.NotFound);
        await AssertProblemAsync(await globex.TxnAsync("""{"success":[{"op":"add","table":"bank","key":"alice","value":-100}]}"""), HttpStatusCode.NotFound);

        Assert.Equal(HttpStatusCode.Created, (await globex.PutAsync("/v1/tables/bank", Json("{\"transactional\": true, \"shards\": 2}"))).StatusCode);
        var theirs = await globex.TxnOkAsync("""{"success":[{"op":"get","table":"bank","key":"alice"}]}""");
        Assert.Equal(JsonValueKind.Null, theirs.Result(0).GetProperty("value").ValueKind);
        Assert.Equal("100", await acme.ValueAsync("bank", "alice"));
    }

    [Fact]
    public async Task Reading_needs_data_read_and_writing_needs_data_write()
    {
        var tenant = await NewTenantAsync();
        var writer = await ClientAsync(tenant, "[\"data:read\", \"data:write\"]");
        var reader = await ClientAsync(tenant, "[\"data:read\"]");
        var jobsOnly = await ClientAsync(tenant, "[\"jobs\"]");
        Assert.Equal(HttpStatusCode.Created, (await writer.PutAsync("/v1/tables/acc", Json("{\"transactional\": true, \"shards\": 2}"))).StatusCode);
        await writer.TxnOkAsync("""{"success":[{"op":"put","table":"acc","key":"a","value":1}]}""");

        Assert.Equal(1, (await reader.TxnOkAsync("""{"success":[{"op":"get","table":"acc","key":"a"}]}""")).Result(0).GetProperty("value").GetInt32());
        await AssertProblemAsync(await reader.TxnAsync("""{"success":[{"op":"get","table":"acc","key":"a"}],"failure":[{"op":"delete","table":"acc","key":"a"}]}"""), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await reader.TxnAsync("""{"success":[{"op":"add","table":"acc","key":"a","value":1}]}"""), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await jobsOnly.TxnAsync("""{"success":[{"op":"get","table":"acc","key":"a"}]}"""), HttpStatusCode.Forbidden);
        Assert.Equal("1", await writer.ValueAsync("acc", "a"));
    }

    private async Task<string> NewTenantAsync()
    {
        var tenant = $"t{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsync("/v1/admin/tenants", Json($"{{\"name\": \"{tenant}\"}}"))).StatusCode);
        return tenant;
    }

    private async Task<HttpClient> ClientAsync(string tenant, string scopes)
    {
        var response = await Admin.PostAsync($"/v1/admin/tenants/{tenant}/keys", Json($"{{\"name\": \"txn\", \"scopes\": {scopes}}}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var key = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString();
        return fixture.Cluster.Api.CreateClientWithKey(key);
    }
}
