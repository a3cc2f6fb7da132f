using OrleansCompute.Silo.Storage;

namespace OrleansCompute.Silo;

/// <summary>
/// <c>Silo</c> runs a silo until SIGTERM or Ctrl-C, then leaves the cluster gracefully.
/// <c>Silo migrate</c> only brings the database schema up to date and exits.
/// </summary>
public static class SiloProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["migrate", .. var rest])
        {
            return await MigrateAsync(rest);
        }

        var app = SiloApp.Build(args);
        await app.RunAsync();
        return 0;
    }

    private static async Task<int> MigrateAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.Services.AddSingleton(SiloSettings.From(builder.Configuration));
        builder.Services.AddSingleton<SchemaMigrator>();
        builder.Services.AddSingleton<SchemaMigrationService>();
        using var host = builder.Build();
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        await host.Services.GetRequiredService<SchemaMigrationService>().StartAsync(cancel.Token);
        return 0;
    }
}
