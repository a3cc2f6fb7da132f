using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Transactions;

/// <summary>Small helpers for transaction tests: tables, transactions and reads through the REST API.</summary>
public static class TxnTestClient
{
    public static async Task<string> NewTransactionalTableAsync(this HttpClient http, int shards = 4)
    {
        var table = Infrastructure.Names.Table("tx");
        var created = await http.PutAsync($"/v1/tables/{table}", Json($"{{\"transactional\": true, \"shards\": {shards}}}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return table;
    }

    public static Task<HttpResponseMessage> TxnAsync(this HttpClient http, string body) => http.PostAsync("/v1/txn", Json(body));

    /// <summary>Opens two accounts of 100 in one transaction, their keys named after <paramref name="marker"/>.</summary>
    public static async Task<(string From, string To)> OpenTwoAccountsAsync(this HttpClient http, string table, string marker)
    {
        string from = $"{marker}-a", to = $"{marker}-b";
        await http.TxnOkAsync($$"""{"success":[{"op":"put","table":"{{table}}","key":"{{from}}","value":100},{"op":"put","table":"{{table}}","key":"{{to}}","value":100}]}""");
        return (from, to);
    }

    /// <summary>Moves <paramref name="amount"/> from one key to another in one transaction; the answer as it came.</summary>
    public static Task<HttpResponseMessage> TransferAsync(this HttpClient http, string table, string from, string to, int amount) =>
        http.TxnAsync($$"""
            {"success":[{"op":"add","table":"{{table}}","key":"{{from}}","value":{{-amount}}},
                        {"op":"add","table":"{{table}}","key":"{{to}}","value":{{amount}}}]}
            """);

    /// <summary>Runs a transaction that must be answered 200, and returns its answer.</summary>
    public static async Task<JsonElement> TxnOkAsync(this HttpClient http, string body)
    {
        var response = await http.TxnAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// <see cref="ValueAsync"/> once the key answers at all: right after a failed transaction its
    /// keys may still be locked while it aborts, and a read is answered 503 within the Api's
    /// bound (docs/reliability.md) instead of waiting for the locks.
    /// </summary>
    public static async Task<string?> SettledValueAsync(this HttpClient http, string table, string key)
    {
        await Eventually.WaitAsync(async () => (await http.GetAsync($"/v1/tables/{table}/keys/{key}")).StatusCode != HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(60), $"key '{key}' to be readable");
        return await http.ValueAsync(table, key);
    }

    /// <summary>The key's committed value as JSON text, or null when it is absent.</summary>
    public static async Task<string?> ValueAsync(this HttpClient http, string table, string key)
    {
        var response = await http.GetAsync($"/v1/tables/{table}/keys/{key}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    public static async Task PutAsync(this HttpClient http, string table, string key, string json)
    {
        var response = await http.PutAsync($"/v1/tables/{table}/keys/{key}", Json(json));
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"put answered {response.StatusCode}");
    }

    public static JsonElement Result(this JsonElement answer, int index) => answer.GetProperty("results")[index];

    public static async Task<JsonElement> ScanAsync(this HttpClient http, string table, string query = "") =>
        await http.GetFromJsonAsync<JsonElement>($"/v1/tables/{table}/keys{query}");
}
