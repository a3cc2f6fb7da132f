using OrleansCompute.Silo.Storage;
using OrleansCompute.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansCompute.Tests.Cluster;

/// <summary>The schema applies itself, once, however many silos start at the same moment.</summary>
public class SchemaBootstrapTests
{
    [Fact]
    public async Task Three_silos_started_together_on_an_empty_database_all_come_up()
    {
        await using var cluster = await PostgresCluster.StartAsync("bootstrap", silos: 3);

        await Eventually.WaitAsync(() => Task.FromResult(cluster.Silos.All(s => s.IsReady)), TimeSpan.FromSeconds(60), "all three silos active");
        var steps = SchemaMigrator.StepsFor("postgres");
        var recorded = await TestDatabase.ScalarAsync<long>(cluster.ConnectionString, "SELECT count(*) FROM oc_schema_migrations");
        Assert.Equal(steps.Count, recorded);
        var active = await TestDatabase.ScalarAsync<long>(cluster.ConnectionString,
            "SELECT count(*) FROM oc_membership WHERE deployment_id = @cluster AND status = 3", ("cluster", cluster.ClusterId));
        Assert.Equal(3, active);
    }

    [Fact]
    public async Task Migrating_again_applies_nothing_and_every_step_is_idempotent_by_hand()
    {
        var database = await TestDatabase.CreateAsync("migrate");
        var migrator = new SchemaMigrator(NullLogger<SchemaMigrator>.Instance);

        var first = await migrator.MigratePostgresAsync(database, CancellationToken.None);
        var second = await migrator.MigratePostgresAsync(database, CancellationToken.None);
        foreach (var step in SchemaMigrator.StepsFor("postgres"))
        {
            await TestDatabase.ExecuteAsync(database, step.Sql);
        }

        Assert.Equal(SchemaMigrator.StepsFor("postgres").Select(s => s.Id), first);
        Assert.Empty(second);
    }

    [Fact]
    public async Task Concurrent_migrations_apply_each_step_exactly_once()
    {
        var database = await TestDatabase.CreateAsync("race");
        var migrator = new SchemaMigrator(NullLogger<SchemaMigrator>.Instance);

        var runs = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => migrator.MigratePostgresAsync(database, CancellationToken.None)));

        Assert.Equal(SchemaMigrator.StepsFor("postgres").Select(s => s.Id), runs.SelectMany(r => r).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_applied_step_that_changed_stops_the_migration()
    {
        var database = await TestDatabase.CreateAsync("tamper");
        var migrator = new SchemaMigrator(NullLogger<SchemaMigrator>.Instance);
        await migrator.MigratePostgresAsync(database, CancellationToken.None);
        await TestDatabase.ExecuteAsync(database, "UPDATE oc_schema_migrations SET checksum = 'edited' WHERE id = '002_membership'");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => migrator.MigratePostgresAsync(database, CancellationToken.None));

        Assert.Contains("002_membership", error.Message);
    }

    [Fact]
    public async Task The_embedded_store_migrates_a_fresh_sqlite_file_once()
    {
        var folder = Directory.CreateTempSubdirectory("oc-sqlite-");
        var connectionString = $"Data Source={Path.Combine(folder.FullName, "store.db")}";
        var migrator = new SchemaMigrator(NullLogger<SchemaMigrator>.Instance);

        var runs = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => migrator.MigrateSqliteAsync(connectionString, CancellationToken.None)));

        Assert.Equal(SchemaMigrator.StepsFor("sqlite").Select(s => s.Id), runs.SelectMany(r => r).Order(StringComparer.Ordinal));
    }
}
