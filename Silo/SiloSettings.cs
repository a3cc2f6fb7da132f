using System.Net;
using System.Net.Sockets;

namespace OrleansCompute.Silo;

/// <summary>The silo's configuration contract (SPEC §2), read once at start.</summary>
public sealed record SiloSettings(
    string? PostgresConnectionString,
    string ClusterId,
    string ServiceId,
    int SiloPort,
    int GatewayPort,
    IPAddress AdvertisedAddress,
    int PrimarySiloPort,
    string StoragePath,
    int HealthPort,
    string Name,
    TransactionalStorageKind TransactionalStorage = TransactionalStorageKind.Postgres)
{
    /// <summary>True when no PostgreSQL is configured: localhost clustering and a SQLite file.</summary>
    public bool IsEmbedded => PostgresConnectionString is null;

    /// <summary>The SQLite connection string of the embedded store.</summary>
    public string SqliteConnectionString =>
        $"Data Source={Path.Combine(Path.GetFullPath(StoragePath), "orleans-compute.db")};Pooling=True;Default Timeout=30";

    public static SiloSettings From(IConfiguration configuration)
    {
        var postgres = configuration.GetConnectionString("Postgres");
        return new SiloSettings(
            PostgresConnectionString: string.IsNullOrWhiteSpace(postgres) ? null : postgres,
            ClusterId: configuration["Orleans:ClusterId"] ?? "dev",
            ServiceId: configuration["Orleans:ServiceId"] ?? "orleans-compute",
            SiloPort: ReadPort(configuration, "Orleans:SiloPort", 11111),
            GatewayPort: ReadPort(configuration, "Orleans:GatewayPort", 30000),
            AdvertisedAddress: ResolveAddress(configuration["Orleans:AdvertisedIP"] ?? "127.0.0.1"),
            PrimarySiloPort: ReadPort(configuration, "Orleans:PrimarySiloPort", 11111),
            StoragePath: configuration["Storage:Path"] ?? "./data",
            HealthPort: ReadPort(configuration, "Silo:HealthPort", 8081, allowZero: true),
            Name: configuration["Silo:Name"] ?? $"{Environment.MachineName}-{ReadPort(configuration, "Orleans:SiloPort", 11111)}",
            TransactionalStorage: ReadTransactionalStorage(configuration["Transactions:Storage"]));
    }

    private static TransactionalStorageKind ReadTransactionalStorage(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "postgres" => TransactionalStorageKind.Postgres,
        "grain-storage" => TransactionalStorageKind.GrainStorage,
        _ => throw new InvalidOperationException($"Transactions:Storage must be 'postgres' or 'grain-storage', not '{text}'."),
    };

    private static int ReadPort(IConfiguration configuration, string key, int fallback, bool allowZero = false)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (!int.TryParse(text, out var port) || port > 65535 || port < (allowZero ? 0 : 1))
        {
            throw new InvalidOperationException($"Configuration '{key}' must be a TCP port number, not '{text}'.");
        }

        return port;
    }

    // An advertised host name (a compose service, a pod's DNS name) is resolved once at start, so
    // containers need not know their own IP.
    private static IPAddress ResolveAddress(string value)
    {
        if (IPAddress.TryParse(value, out var address))
        {
            return address;
        }

        var resolved = Dns.GetHostAddresses(value).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork);
        return resolved ?? throw new InvalidOperationException($"Orleans:AdvertisedIP '{value}' does not resolve to an IPv4 address.");
    }
}

/// <summary>
/// Where transactional state lives in PostgreSQL mode (<c>Transactions:Storage</c>): the project's
/// own rows with group commit (<c>postgres</c>, the default), or Orleans' adapter over the ADO.NET
/// grain storage (<c>grain-storage</c>, kept for comparison; see docs/transactions.md). Embedded
/// mode always uses the adapter over SQLite.
/// </summary>
public enum TransactionalStorageKind
{
    Postgres,
    GrainStorage,
}
