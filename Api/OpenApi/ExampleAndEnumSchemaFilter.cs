using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using OrleansCompute.Api.Data;
using OrleansCompute.Api.Jobs;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Api.Transactions;
using OrleansCompute.Data;
using OrleansCompute.Tenancy;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrleansCompute.Api.OpenApi;

/// <summary>
/// Examples that the Api accepts as they are (Swagger UI's "Try it out" starts from them), and the
/// closed sets of values (statuses, ops, scopes) as enums.
/// </summary>
public sealed class ExampleAndEnumSchemaFilter : ISchemaFilter
{
    private static readonly string[] JobStatusNames = ["queued", "running", "paused", "succeeded", "failed", "cancelled"];

    private static readonly Dictionary<Type, string> Examples = new()
    {
        [typeof(CreateTableRequest)] = """{"transactional": false, "shards": 16}""",
        [typeof(ReshardRequest)] = """{"shards": 32}""",
        [typeof(JobRequest)] = """{"kind": "primes", "input": {"from": 1, "to": 100000, "chunkSize": 25000}, "retry": {"maxAttempts": 3, "backoffSeconds": 1}, "timeoutSeconds": 60}""",
        [typeof(RetryRequest)] = """{"maxAttempts": 3, "backoffSeconds": 1}""",
        [typeof(ScheduleRequest)] = """{"cron": "*/5 * * * *", "timeZone": "UTC", "job": {"kind": "primes", "input": {"from": 1, "to": 100000}}}""",
        [typeof(CreateTenantRequest)] = """{"name": "acme"}""",
        [typeof(IssueKeyRequest)] = """{"name": "ci", "scopes": ["data:read", "data:write"]}""",
        [typeof(BatchRequest)] = """{"ops": [{"op": "put", "key": "a", "value": {"n": 1}}, {"op": "get", "key": "a"}, {"op": "delete", "key": "b"}]}""",
        [typeof(BatchOp)] = """{"op": "put", "key": "a", "value": {"n": 1}}""",
        [typeof(TxnBody)] = """{"compare": [{"table": "bank", "key": "alice", "target": "value", "op": ">=", "value": 10}], "success": [{"op": "add", "table": "bank", "key": "alice", "value": -10}, {"op": "add", "table": "bank", "key": "bob", "value": 10}], "failure": [{"op": "get", "table": "bank", "key": "alice"}]}""",
        [typeof(TxnCompareBody)] = """{"table": "bank", "key": "alice", "target": "value", "op": ">=", "value": 10}""",
        [typeof(TxnOpBody)] = """{"op": "add", "table": "bank", "key": "alice", "value": -10}""",
    };

    private static readonly Dictionary<(Type, string), string[]> Enums = new()
    {
        [(typeof(JobResponse), "status")] = JobStatusNames,
        [(typeof(JobSummaryResponse), "status")] = JobStatusNames,
        [(typeof(JobAccepted), "status")] = JobStatusNames,
        [(typeof(TaskResponse), "status")] = ["pending", "running", "succeeded", "failed", "cancelled"],
        [(typeof(BatchOp), "op")] = ["get", "put", "delete"],
        [(typeof(BatchResult), "op")] = ["get", "put", "delete"],
        [(typeof(TxnCompareBody), "target")] = ["value", "version", "exists"],
        [(typeof(TxnCompareBody), "op")] = ["==", "!=", ">", ">=", "<", "<="],
        [(typeof(TxnOpBody), "op")] = ["get", "put", "delete", "add"],
        [(typeof(TxnOpResult), "op")] = ["get", "put", "delete", "add"],
    };

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema concrete)
        {
            return;
        }

        if (Examples.TryGetValue(context.Type, out var example))
        {
            concrete.Example = JsonNode.Parse(example);
        }

        if (concrete.Properties is null)
        {
            return;
        }

        foreach (var (name, property) in concrete.Properties)
        {
            if (property is not OpenApiSchema value)
            {
                continue;
            }

            // "Any JSON value" includes null already: a nullable mark without a type is invalid OpenAPI 3.0.
            if (value.Type == JsonSchemaType.Null)
            {
                value.Type = null;
            }

            if (Enums.TryGetValue((context.Type, name), out var values))
            {
                value.Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))];
            }
        }

        // A get or delete has no value, and neither does an exists compare.
        if (context.Type == typeof(BatchOp) || context.Type == typeof(TxnOpBody) || context.Type == typeof(TxnCompareBody))
        {
            concrete.Required?.Remove("value");
        }

        if (context.Type == typeof(CreateTableRequest) || context.Type == typeof(ReshardRequest))
        {
            if (concrete.Properties.TryGetValue("shards", out var shards) && shards is OpenApiSchema s)
            {
                s.Minimum = "1";
                s.Maximum = TableSpec.MaxShards.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        if (context.Type == typeof(IssueKeyRequest) && concrete.Properties.TryGetValue("scopes", out var scopes) && scopes is OpenApiSchema list && list.Items is OpenApiSchema item)
        {
            item.Enum = [.. Scopes.All.Select(v => (JsonNode)JsonValue.Create(v))];
        }
    }
}
