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
        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (OperationCanceledException)
        {
            // Stopped (SIGTERM, Ctrl-C) before it finished starting, e.g. while waiting for PostgreSQL.
            Console.Error.WriteLine("Silo stopped before it finished starting.");
            return 1;
        }
        catch (Exception ex)
        {
            // The host has logged the failure; exit with a status instead of an unhandled-exception abort.
            Console.Error.WriteLine($"Silo failed to start: {ex.Message}");
            return 1;
        }
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
        try
        {
            await host.Services.GetRequiredService<SchemaMigrationService>().StartAsync(cancel.Token);
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"Schema migration failed: {ex.Message}");
            return 1;
        }
    }
}
