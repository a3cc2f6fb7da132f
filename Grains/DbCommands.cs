using System.Data.Common;

namespace OrleansCompute.Grains;

/// <summary>
/// Commands over a plain <see cref="DbConnection"/>, for the stores whose SQL runs on PostgreSQL
/// and SQLite alike (jobs, coordination): the provider-neutral way to build a command and bind a
/// parameter, null as <see cref="DBNull"/>.
/// </summary>
public static class DbCommands
{
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    public static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }
}
