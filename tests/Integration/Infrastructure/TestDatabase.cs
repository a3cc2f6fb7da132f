using Npgsql;

namespace OrleansCompute.Tests.Infrastructure;

/// <summary>
/// A fresh PostgreSQL database per fixture on the server that ./tests/run.sh starts, so no test
/// sees another's rows and every schema test starts from an empty database.
/// </summary>
public static class TestDatabase
{
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("OC_TEST_POSTGRES") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                "OC_TEST_POSTGRES is not set. Run the tests with ./tests/run.sh, which starts a throwaway PostgreSQL server.");

    public static async Task<string> CreateAsync(string purpose)
    {
        var name = $"oc_{purpose}_{Guid.NewGuid():N}"[..40].ToLowerInvariant();
        await using (var connection = new NpgsqlConnection(ServerConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(ServerConnectionString)
        {
            Database = name,
            // A finished test's silos may live on in a shared fixture: let their idle connections go
            // after seconds, not Npgsql's 5 minutes, so parallel test classes don't exhaust the server.
            ConnectionIdleLifetime = 20,
            ConnectionPruningInterval = 5,
        }.ConnectionString;
    }

    public static async Task<T?> ScalarAsync<T>(string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)Convert.ChangeType(result, typeof(T));
    }

    public static async Task ExecuteAsync(string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync();
    }
}
