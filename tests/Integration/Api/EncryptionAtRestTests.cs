using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrleansCompute.Data;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Tests.Infrastructure;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Api;

/// <summary>Per-table encryption of values at rest: the plaintext never reaches PostgreSQL, and keys rotate.</summary>
public class EncryptionAtRestTests
{
    private const string Marker = "card-4111-1111-1111-1111";

    [Fact]
    public async Task Encrypted_values_never_reach_postgres_in_the_clear_and_survive_a_key_rotation()
    {
        var first = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var second = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var cluster = await PostgresCluster.StartAsync("crypt", silos: 2, siloSettings: new Dictionary<string, string?>
        {
            ["Encryption:ActiveKey"] = "k1",
            ["Encryption:Keys:k1"] = first,
        });
        var http = await cluster.Api.CreateReadyClientAsync();
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v1/tables/secret", Json("{\"shards\": 4, \"encrypted\": true}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v1/tables/plain", Json("{\"shards\": 4}"))).StatusCode);
        for (var i = 0; i < 10; i++)
        {
            await http.PutAsync($"/v1/tables/secret/keys/old{i}", Json($"{{\"card\": \"{Marker}\"}}"));
        }

        await http.PutAsync("/v1/tables/plain/keys/k", Json($"{{\"card\": \"{Marker}\"}}"));
        Assert.True((await http.GetFromJsonAsync<JsonElement>("/v1/tables/secret")).GetProperty("encrypted").GetBoolean());
        Assert.Equal($"{{\"card\": \"{Marker}\"}}", await http.GetStringAsync("/v1/tables/secret/keys/old3"));

        // The unencrypted table shows the marker in its rows; the encrypted one nowhere.
        Assert.Equal(1, await RowsContainingMarkerAsync(cluster.ConnectionString));
        Assert.Equal(["k1"], await KeyIdsAsync(cluster, "secret"));

        // Rotate: restart the silos with a second key made active, the first kept for old values.
        await cluster.StopSilosAsync();
        await cluster.StartSilosAsync(2, new Dictionary<string, string?>
        {
            ["Encryption:ActiveKey"] = "k2",
            ["Encryption:Keys:k1"] = first,
            ["Encryption:Keys:k2"] = second,
        });
        await Eventually.WaitAsync(async () => (await http.GetAsync("/v1/tables/secret/keys/old0")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), "the restarted cluster to serve the encrypted table");

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal($"{{\"card\": \"{Marker}\"}}", await http.GetStringAsync($"/v1/tables/secret/keys/old{i}"));
        }

        await http.PutAsync("/v1/tables/secret/keys/new", Json($"\"{Marker}\""));
        Assert.Equal($"\"{Marker}\"", await http.GetStringAsync("/v1/tables/secret/keys/new"));
        Assert.Equal(["k1", "k2"], await KeyIdsAsync(cluster, "secret"));
        Assert.Equal(1, await RowsContainingMarkerAsync(cluster.ConnectionString));

        // A transactional table cannot be encrypted (its values would be stored in the clear): 400, and no table.
        var refused = await AssertProblemAsync(await http.PutAsync("/v1/tables/ledger", Json("{\"transactional\": true, \"encrypted\": true}")), HttpStatusCode.BadRequest);
        Assert.Contains("transactional", refused.GetProperty("errors").GetProperty("encrypted")[0].GetString());
        await AssertProblemAsync(await http.GetAsync("/v1/tables/ledger"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Asking_for_encryption_without_a_configured_key_is_400_and_creates_nothing()
    {
        await using var cluster = await PostgresCluster.StartAsync("nocrypt", silos: 1);
        var http = await cluster.Api.CreateReadyClientAsync();

        var response = await http.PutAsync("/v1/tables/secret", Json("{\"encrypted\": true}"));

        Assert.True((await AssertProblemAsync(response, HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("encrypted", out _));
        await AssertProblemAsync(await http.GetAsync("/v1/tables/secret"), HttpStatusCode.NotFound);
    }

    private static Task<long> RowsContainingMarkerAsync(string database) =>
        TestDatabase.ScalarAsync<long>(database,
            "SELECT count(*) FROM oc_kv WHERE position(convert_to(@marker, 'UTF8') in value) > 0", ("marker", Marker));

    private static async Task<List<string>> KeyIdsAsync(PostgresCluster cluster, string table)
    {
        var info = (await cluster.Silos[0].Grains.GetGrain<ITableGrain>($"default/{table}").DescribeAsync())!;
        var ids = new List<string>();
        await using var connection = new Npgsql.NpgsqlConnection(cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT value FROM oc_kv WHERE table_id = @table", connection);
        command.Parameters.AddWithValue("table", info.Id);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(ValueProtector.KeyIdOf((byte[])reader.GetValue(0)));
        }

        return [.. ids.Distinct().Order(StringComparer.Ordinal)];
    }
}
