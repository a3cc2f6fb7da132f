using System.Net;
using OrleansCompute.Tests.Infrastructure;
using OrleansCompute.Tests.Transactions;
using static OrleansCompute.Tests.Api.ProblemAnswerTests;

namespace OrleansCompute.Tests.Watch;

/// <summary>
/// Embedded mode (SQLite) keeps no change log for transactional tables: the silo's feed grain says
/// so, and a watch on one is a 400 naming the table, while a plain table's watch opens.
/// </summary>
public class EmbeddedTxnWatchTests
{
    [Fact]
    public async Task A_watch_on_a_transactional_table_in_embedded_mode_is_400_naming_the_table_and_a_plain_one_opens()
    {
        var primaryPort = Ports.Free();
        var settings = InProcessSilo.EmbeddedSettings("watch-embedded-txn", primaryPort);
        await using var silo = await InProcessSilo.StartAsync(settings, primaryPort);
        await using var api = new ApiFactory(new Dictionary<string, string?>(settings) { ["Orleans:Gateways"] = $"127.0.0.1:{silo.GatewayPort}" });
        var http = await api.CreateReadyClientAsync();

        var ledger = await http.NewTransactionalTableAsync(shards: 2);
        var refused = await AssertProblemAsync(await http.GetAsync($"/v1/tables/{ledger}/watch", HttpCompletionOption.ResponseHeadersRead), HttpStatusCode.BadRequest);
        Assert.Contains("PostgreSQL", refused.GetProperty("errors").GetProperty("table")[0].GetString());

        var plain = await WatchApiTests.NewTableAsync(http, shards: 1);
        var (stream, status) = await WatchReader.OpenAsync(http, $"/v1/tables/{plain}/watch");
        await using (stream)
        {
            Assert.Equal(200, status);
        }
    }
}
