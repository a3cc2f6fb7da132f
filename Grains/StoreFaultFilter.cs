using System.Data.Common;
using Microsoft.Extensions.Logging;
using OrleansCompute.Data;

namespace OrleansCompute.Grains;

/// <summary>
/// Turns a database exception escaping any grain call into <see cref="StoreUnavailableException"/>.
/// Npgsql's and SQLite's exceptions cannot be serialized to the Api (it has no codec for them), so
/// they arrived as a serialization failure and a 500; this way the Api answers a retryable 503.
/// Only an exception that is itself a <see cref="DbException"/> is replaced: Orleans' own failures
/// (transaction aborts, which keep a store fault as their inner exception) pass unchanged.
/// </summary>
public sealed partial class StoreFaultFilter(ILogger<StoreFaultFilter> logger) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (DbException ex)
        {
            // The database's own text (table names, statements) stays in the silo's log: the
            // message below reaches API clients in the problem answer.
            LogStoreFault(ex, context.InterfaceMethod?.Name ?? "?", context.TargetId.ToString());
            throw new StoreUnavailableException("The database failed while the request ran.");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The store failed under {Method} of {Grain}")]
    private partial void LogStoreFault(Exception exception, string method, string grain);
}
