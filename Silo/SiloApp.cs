using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Orleans.Configuration;
using Orleans.Dashboard;
using OrleansCompute.Grains;
using OrleansCompute.Grains.Coordination;
using OrleansCompute.Grains.Coordination.Storage;
using OrleansCompute.Grains.Data;
using OrleansCompute.Grains.Data.Placement;
using OrleansCompute.Grains.Data.Storage;
using OrleansCompute.Grains.Jobs;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Grains.Placement;
using OrleansCompute.Grains.Transactions;
using OrleansCompute.Grains.Transactions.Storage;
using Orleans.Transactions.Abstractions;
using OrleansCompute.Silo.Health;
using OrleansCompute.Silo.Observability;
using OrleansCompute.Silo.Storage;

namespace OrleansCompute.Silo;

/// <summary>
/// Builds a silo process: the Orleans silo plus a small web server on Silo__HealthPort for
/// health, metrics and the dashboard. Tests start silos through this same method, so they run
/// exactly the configuration users run.
/// </summary>
public static class SiloApp
{
    private const string PostgresInvariant = "Npgsql";

    // Orleans.AdoNet maps this invariant name to Microsoft.Data.Sqlite's factory.
    private const string SqliteInvariant = "System.Data.SQLite";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json ships beside the binary; the working directory may be anywhere.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        configure?.Invoke(builder);
        var settings = SiloSettings.From(builder.Configuration);

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<SchemaMigrator>();
        builder.Services.AddSingleton<SiloReadiness>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloReadiness>());
        builder.Services.AddSingleton(TimeProvider.System);
        // The store's clock as this silo maps it (its lease renewals read it): deadlines that cross processes.
        builder.Services.AddSingleton<OrleansCompute.Deadlines.StoreClock>();
        // Tests substitute their own data and coordination clocks before this runs.
        builder.Services.TryAddKeyedSingleton(KeyValueOptions.ClockKey, TimeProvider.System);
        builder.Services.TryAddKeyedSingleton(CoordinationClock.Key, TimeProvider.System);
        builder.Services.Configure<KeyValueOptions>(builder.Configuration.GetSection("KeyValue"));
        builder.Services.Configure<EncryptionOptions>(builder.Configuration.GetSection("Encryption"));
        builder.Services.Configure<OrleansCompute.Grains.Data.Watch.WatchOptions>(builder.Configuration.GetSection("Watch"));
        builder.Services.AddSingleton<ValueProtector>();
        builder.Services.AddSingleton<SiloLease>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloLease>());
        builder.Services.AddHostedService<DeclaredDeadExit>();
        // A silo proven dead by the store and its endpoint is declared dead at once (docs/architecture.md, Failover).
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, DeadSiloEviction>();
        builder.Services.AddSingleton<LocalShards>();
        // Holds a shard's activation here failed to release are released once the store answers (defect 16).
        builder.Services.AddSingleton<UnreleasedShards>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<UnreleasedShards>());
        builder.Services.AddSingleton<ShardRebalancer>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ShardRebalancer>());
        builder.Services.Configure<TransactionRetryOptions>(builder.Configuration.GetSection("Transactions"));
        builder.Services.Configure<KeyIndexOptions>(builder.Configuration.GetSection("Transactions:KeyIndex"));
        // Three waits of Orleans' transactions hold a key's commits, and every transaction queued
        // behind them on that key, when a silo fails mid-commit (docs/transactions.md, Recovery):
        // - a participant holding a prepared transaction asks its manager for the outcome every
        //   RemoteTransactionPingFrequency (Orleans: 60 s) once the manager's silo is gone;
        // - a manager waits PrepareTimeout (Orleans: 20 s) for the "prepared" of a participant
        //   whose silo was cut off before it answered: the bank answered nothing for 20.1 s after
        //   one silo was isolated (docs/reliability.md, defect 19);
        // - a manager whose confirmation of a commit failed tries again after ConfirmationRetryDelay
        //   (Orleans: 30 s), and ignores the participant's pings meanwhile: the bank answered
        //   nothing for 26.8 s after a 7 s partition (defect 20).
        // A request is answered within 4.75 s (docs/reliability.md), so a commit still waiting
        // after that serves no client: 2 s, 3 s and 1 s put the recoveries inside the failover
        // bound. A retry is one message (or one store write) per transaction waiting.
        builder.Services.Configure<TransactionalStateOptions>(o =>
        {
            o.RemoteTransactionPingFrequency = TimeSpan.FromSeconds(2);
            o.PrepareTimeout = TimeSpan.FromSeconds(3);
            o.ConfirmationRetryDelay = TimeSpan.FromSeconds(1);
        });
        builder.Services.Configure<TransactionalStateOptions>(builder.Configuration.GetSection("Transactions:State"));
        if (settings.PostgresConnectionString is { } postgres)
        {
            // Shard commits use no session state, so pooled connections need no DISCARD ALL on reuse:
            // that reset is a transaction of its own, and would double the commits per write.
            builder.Services.AddSingleton(_ => SiloTelemetry.DataSource(StoreConnectionString(postgres)));
            // Tests may put a fault-injecting decorator in first; theirs then wins.
            builder.Services.TryAddSingleton<IKeyValueStore, PostgresKeyValueStore>();
            builder.Services.TryAddSingleton<IJobStore>(sp => new JobStore(sp.GetRequiredService<NpgsqlDataSource>()));
            builder.Services.TryAddSingleton<ICoordinationStore>(sp => new CoordinationStore(sp.GetRequiredService<NpgsqlDataSource>()));
            if (settings.TransactionalStorage == TransactionalStorageKind.Postgres)
            {
                builder.Services.AddSingleton<TransactionalStateWriter>();
                builder.Services.AddSingleton<TxnChangeLog>();
                // Tests may put a decorator in first (to inject faults); theirs then wins.
                builder.Services.TryAddKeyedSingleton<ITransactionalStateStorageFactory, PostgresTransactionalStateStorageFactory>(StorageNames.Transactional);
            }
        }
        else
        {
            builder.Services.AddSingleton<IKeyValueStore>(new SqliteKeyValueStore(settings.SqliteConnectionString));
            builder.Services.TryAddSingleton<IJobStore>(new JobStore(Microsoft.Data.Sqlite.SqliteFactory.Instance.CreateDataSource(settings.SqliteConnectionString)));
            builder.Services.TryAddSingleton<ICoordinationStore>(new CoordinationStore(Microsoft.Data.Sqlite.SqliteFactory.Instance.CreateDataSource(settings.SqliteConnectionString)));
        }

        builder.Services.Configure<JobOptions>(builder.Configuration.GetSection("Jobs"));
        builder.Services.AddJobs();
        // Registered before UseOrleans: hosted services start in order, and the Orleans providers
        // read their queries from the schema while the silo starts.
        builder.Services.AddHostedService<SchemaMigrationService>();
        builder.Services.AddHostedService<DroppedTablePurger>();
        builder.Services.AddHostedService<OrleansCompute.Grains.Data.Watch.ChangeLogSweeper>();
        builder.Services.AddSingleton<JobRetention>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<JobRetention>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

        builder.UseOrleans(silo => ConfigureSilo(silo, settings, builder.Configuration));

        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenAnyIP(settings.HealthPort));
        // Metrics, traces and JSON logs: Silo/Observability, docs/observability.md.
        builder.AddSiloTelemetry();

        var app = builder.Build();
        app.MapGet("/health/live", () => Results.Ok(new { status = "live" }));
        app.MapGet("/health/ready", (SiloReadiness readiness) => readiness.IsReady
            ? Results.Ok(new { status = "ready" })
            : Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Silo is not active"));
        app.MapSiloObservability();
        return app;
    }

    private static void ConfigureSilo(ISiloBuilder silo, SiloSettings settings, IConfiguration configuration)
    {
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });
        silo.Configure<SiloOptions>(o => o.SiloName = settings.Name);
        // Failure detection fast enough for the 3 s failover of SPEC §4.1, and safe on a busy 2-core
        // machine: probes adapt to observed response times (between half and four times the
        // timeout), a silo whose connection carries traffic is not voted dead, and a silo that is
        // itself degraded extends its probe timeouts. Two missed probes make a suspicion; two
        // votes (or one in a two-silo cluster) declare death. See docs/architecture.md, Failover.
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(1);
            o.NumMissedProbesLimit = 2;
            o.EnableConnectionLivenessCheck = true;
            o.ExtendProbeTimeoutDuringDegradation = true;
            // Orleans' default is a minute. A silo reads the table this often besides gossip: a
            // silo voted dead while cut off learns it within seconds of the heal (and stops), and
            // the others learn of deaths they missed in gossip. One small query per silo.
            o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
        });
        silo.Configure<ClusterMembershipOptions>(configuration.GetSection("Orleans:Membership"));
        silo.AddActivityPropagation();
        // Orleans learning first that this silo was declared dead ends it as the lease renewal does (exit 75).
        silo.Services.Replace(ServiceDescriptor.Singleton<IFatalErrorHandler, DeclaredDeadFatalErrorHandler>());
        silo.AddIncomingGrainCallFilter<StoreFaultFilter>();
        // What StoreFaultFilter cannot reach (a database exception while a grain activates) is sent
        // to the caller as itself, so the Api answers 503 instead of failing to read it (a 500).
        silo.Services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("Npgsql"));
        // The Api's request deadline, as a budget re-derived on this silo's monotonic clock.
        silo.AddIncomingGrainCallFilter<RequestDeadlineFilter>();
        // A transaction manager never commits a transaction it has presumed aborted (defect 17).
        silo.AddIncomingGrainCallFilter<PresumedAbortFilter>();
        silo.AddDashboard();
        silo.AddPlacementDirector<ShardPlacement, ShardPlacementDirector>();
        silo.AddPlacementDirector<SiloBoundPlacement, SiloBoundPlacementDirector>();
        // Jobs and schedules keep themselves alive with reminders of Jobs:RecoveryPeriod.
        var recovery = configuration.GetSection("Jobs").Get<JobOptions>()?.RecoveryPeriod ?? new JobOptions().RecoveryPeriod;
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = recovery < o.MinimumReminderPeriod ? recovery : o.MinimumReminderPeriod);
        silo.UseTransactions();
        // The default directory (a hash ring of partitions) deactivates every activation whose
        // partition lived on a silo that died. A transactional key deactivated mid-transaction holds
        // its incoming messages until its running requests finish, and those wait for the very
        // messages it holds: the bank test saw keys on healthy silos wedged for minutes after a
        // SIGKILL. The distributed directory recovers a dead silo's partitions from the survivors'
        // activations instead, so nothing on a healthy silo is deactivated by another's death.
#pragma warning disable ORLEANSEXP003 // Experimental in 10.x; chosen on the failure above, see docs/architecture.md.
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        // After a silo dies ungracefully, the distributed directory refuses to register its grains
        // elsewhere for RangeLeaseDuration, in case the silo is alive after all (measured: keys dark
        // for 23 s after a SIGKILL that was declared in 2.3 s). Every grain here that keeps state is
        // fenced in the store instead (shards by epoch under the silo lease, jobs by their fence,
        // transactional state and grain state by etags), so a second activation cannot corrupt
        // anything; the lease only delayed failover. See docs/architecture.md, Failover.
        silo.Configure<GrainDirectoryOptions>(o => o.RangeLeaseDuration = TimeSpan.FromSeconds(2));
        silo.Configure<GrainDirectoryOptions>(configuration.GetSection("Orleans:GrainDirectory"));

        if (settings.PostgresConnectionString is { } postgres)
        {
            silo.ConfigureEndpoints(settings.AdvertisedAddress, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: true);
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = PostgresInvariant;
                o.ConnectionString = postgres;
            });
            AddGrainStorage(silo, PostgresInvariant, postgres);
            if (settings.TransactionalStorage == TransactionalStorageKind.GrainStorage)
            {
                AddGrainStorage(silo, PostgresInvariant, postgres, StorageNames.Transactional);
            }
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = PostgresInvariant;
                o.ConnectionString = postgres;
            });
        }
        else
        {
            silo.UseLocalhostClustering(
                settings.SiloPort,
                settings.GatewayPort,
                new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, settings.PrimarySiloPort),
                settings.ServiceId,
                settings.ClusterId);
            AddGrainStorage(silo, SqliteInvariant, settings.SqliteConnectionString);
            // Embedded mode: transactional state goes through Orleans' adapter over the same SQLite store.
            AddGrainStorage(silo, SqliteInvariant, settings.SqliteConnectionString, StorageNames.Transactional);
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = SqliteInvariant;
                o.ConnectionString = settings.SqliteConnectionString;
            });
        }
    }

    /// <summary>
    /// The connection string of the project's own stores. Shard commits use no session state, so
    /// pooled connections need no DISCARD ALL on reuse: that reset is a transaction of its own, and
    /// would double the commits per write. Unless the connection string says otherwise, opening a
    /// connection and running a statement each give up within the Api's answer bound (5 s) rather
    /// than Npgsql's 15 s and 30 s: a store that does not answer must not hold a request longer
    /// than its caller waits (docs/reliability.md, Bounded answers).
    /// </summary>
    internal static string StoreConnectionString(string postgres)
    {
        var given = new NpgsqlConnectionStringBuilder(postgres);
        var builder = new NpgsqlConnectionStringBuilder(postgres)
        {
            NoResetOnClose = true,
            // The same few statements run on every commit: prepare them once per connection.
            MaxAutoPrepare = 32,
            AutoPrepareMinUsages = 2,
        };
        if (!given.ContainsKey("Timeout"))
        {
            builder.Timeout = StoreConnectTimeoutSeconds;
        }

        if (!given.ContainsKey("Command Timeout"))
        {
            builder.CommandTimeout = StoreCommandTimeoutSeconds;
        }

        return builder.ConnectionString;
    }

    private const int StoreConnectTimeoutSeconds = 3;
    private const int StoreCommandTimeoutSeconds = 5;

    private static void AddGrainStorage(ISiloBuilder silo, string invariant, string connectionString, string name = StorageNames.Default) =>
        silo.AddAdoNetGrainStorage(name, o =>
        {
            o.Invariant = invariant;
            o.ConnectionString = connectionString;
            // Dropped resources leave no rows behind.
            o.DeleteStateOnClear = true;
        });
}
