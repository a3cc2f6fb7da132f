using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;
using OrleansCompute.Silo.Health;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Cluster;

/// <summary>
/// When Orleans, not the shard lease, learns first that the cluster declared a silo dead, it calls
/// the fatal-error handler; the product's handler must be the one it calls (docs/reliability.md,
/// defect 10). Silo processes then exit 75 (asserted by MultiProcess/PausedSiloTests); a silo
/// hosted in a test process stops instead of failing the whole process fast.
/// </summary>
public class DeclaredDeadHandlerTests
{
    [Fact]
    public async Task Orleans_telling_a_hosted_silo_it_is_dead_stops_that_silo_and_nothing_else()
    {
        var port = Ports.Free();
        await using var silo = await InProcessSilo.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "",
            ["Storage:Path"] = Directory.CreateTempSubdirectory("oc-declared-dead-").FullName,
            ["Orleans:ClusterId"] = $"declared-dead-{Guid.NewGuid():N}",
            ["Orleans:PrimarySiloPort"] = port.ToString(),
        }, port);
        var handler = silo.Services.GetRequiredService<IFatalErrorHandler>();
        Assert.IsType<DeclaredDeadFatalErrorHandler>(handler);
        var stopped = silo.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        Assert.False(stopped.IsCancellationRequested);

        // The context text Orleans' MembershipTableManager passes when the table says this silo is dead.
        handler.OnFatalException(this, "I have been told I am dead, so this silo will stop! Reason: I should be Dead according to membership table (in Refresh).", null);

        Assert.True(stopped.IsCancellationRequested);
    }

    [Theory]
    [InlineData("I have been told I am dead, so this silo will stop! Reason: Detected newer version of myself", true)]
    [InlineData("Error refreshing membership table", false)]
    [InlineData(null, false)]
    public void Only_Orleans_declaring_the_silo_dead_counts_as_declared_dead(string? context, bool declaredDead) =>
        Assert.Equal(declaredDead, DeclaredDeadFatalErrorHandler.IsDeclaredDead(context));
}
