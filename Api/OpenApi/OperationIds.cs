using Microsoft.AspNetCore.Mvc.ApiExplorer;

namespace OrleansCompute.Api.OpenApi;

/// <summary>
/// The operationId of every operation, named for what it does: generated clients turn these into
/// method names (PutKeyAsync, SubmitJobAsync). A route without a name here fails the document test.
/// </summary>
public static class OperationIds
{
    private static readonly Dictionary<string, string> Names = new(StringComparer.Ordinal)
    {
        ["GET v1/cluster"] = "getCluster",
        ["GET v1/tables"] = "listTables",
        ["PUT v1/tables/{table}"] = "createTable",
        ["PATCH v1/tables/{table}"] = "reshardTable",
        ["GET v1/tables/{table}"] = "getTable",
        ["DELETE v1/tables/{table}"] = "dropTable",
        ["GET v1/tables/{table}/shards"] = "listShards",
        ["GET v1/tables/{table}/keys"] = "scanKeys",
        ["PUT v1/tables/{table}/keys/{key}"] = "putKey",
        ["GET v1/tables/{table}/keys/{key}"] = "getKey",
        ["DELETE v1/tables/{table}/keys/{key}"] = "deleteKey",
        ["POST v1/tables/{table}/batch"] = "runBatch",
        ["GET v1/tables/{table}/watch"] = "watchKeys",
        ["POST v1/txn"] = "runTransaction",
        ["POST v1/jobs"] = "submitJob",
        ["GET v1/jobs"] = "listJobs",
        ["GET v1/jobs/{id}"] = "getJob",
        ["DELETE v1/jobs/{id}"] = "deleteJob",
        ["GET v1/jobs/{id}/tasks"] = "listJobTasks",
        ["GET v1/jobs/{id}/events"] = "followJob",
        ["POST v1/jobs/{id}/cancel"] = "cancelJob",
        ["POST v1/jobs/{id}/pause"] = "pauseJob",
        ["POST v1/jobs/{id}/resume"] = "resumeJob",
        ["POST v1/jobs/{id}/retry"] = "retryJob",
        ["GET v1/task-kinds"] = "listTaskKinds",
        ["GET v1/schedules"] = "listSchedules",
        ["PUT v1/schedules/{name}"] = "putSchedule",
        ["GET v1/schedules/{name}"] = "getSchedule",
        ["DELETE v1/schedules/{name}"] = "deleteSchedule",
        ["POST v1/schedules/{name}/pause"] = "pauseSchedule",
        ["POST v1/schedules/{name}/resume"] = "resumeSchedule",
        ["POST v1/schedules/{name}/trigger"] = "triggerSchedule",
        ["GET v1/schedules/{name}/runs"] = "listScheduleRuns",
        ["POST v1/leases"] = "grantLease",
        ["GET v1/leases"] = "listLeases",
        ["GET v1/leases/{id}"] = "getLease",
        ["POST v1/leases/{id}/keepalive"] = "keepLeaseAlive",
        ["DELETE v1/leases/{id}"] = "revokeLease",
        ["POST v1/locks/{name}"] = "acquireLock",
        ["GET v1/locks/{name}"] = "getLock",
        ["DELETE v1/locks/{name}"] = "releaseLock",
        ["POST v1/elections/{path}"] = "runElectionCommand",
        ["GET v1/elections/{path}"] = "getElection",
        ["GET v1/admin/tenants"] = "listTenants",
        ["POST v1/admin/tenants"] = "createTenant",
        ["GET v1/admin/tenants/{tenant}/keys"] = "listApiKeys",
        ["POST v1/admin/tenants/{tenant}/keys"] = "issueApiKey",
        ["DELETE v1/admin/tenants/{tenant}/keys/{id}"] = "revokeApiKey",
    };

    /// <summary>The operation's id; an unnamed route gets a mechanical one (the document test asks for a name).</summary>
    public static string For(ApiDescription api)
    {
        var key = $"{api.HttpMethod} {Route(api)}";
        return Names.TryGetValue(key, out var name) ? name : "unnamed_" + string.Concat(key.Where(char.IsLetterOrDigit));
    }

    /// <summary>The route as the dictionary spells it: no trailing slash, catch-alls as plain parameters.</summary>
    public static string Route(ApiDescription api) => (api.RelativePath ?? "").TrimEnd('/').Replace("{**", "{", StringComparison.Ordinal);
}
