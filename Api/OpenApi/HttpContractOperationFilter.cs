using System.Net.ServerSentEvents;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrleansCompute.Api.OpenApi;

/// <summary>
/// What the handlers read and write outside their typed parameters, so that the document tells a
/// client all of it: the raw JSON body of a key put, the conditional and fencing headers, ETag,
/// Location and Retry-After on the answers, and the event streams.
/// </summary>
public sealed class HttpContractOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var route = OperationIds.Route(context.ApiDescription);
        var method = context.ApiDescription.HttpMethod;
        operation.Description ??= operation.Summary;
        operation.Parameters ??= [];
        operation.Responses ??= [];

        if (route == "v1/tables/{table}/keys/{key}")
        {
            DescribeKey(operation, method);
        }

        if (route == "v1/tables/{table}/keys")
        {
            Describe(operation, "prefix", "Only keys starting with this prefix.");
        }

        if (route == "v1/tables/{table}/watch")
        {
            DescribeWatch(operation);
        }

        Describe(operation, "limit", "Items per page: 1 to 1000 (default 100).");
        Describe(operation, "after", "The `next` cursor of the previous page; omit it for the first page.");
        Describe(operation, "table", "The table name: `[a-z0-9][a-z0-9_-]{0,62}`.");
        Describe(operation, "Idempotency-Key", "The same key returns the same job (1 to 200 printable ASCII characters); makes a retry safe.");

        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse answer)
            {
                continue;
            }

            if (status is "201" or "202")
            {
                AddHeader(answer, "Location", "The path of the created or changed resource.");
            }

            if (status is "429" or "503" || (status == "409" && route == "v1/txn"))
            {
                AddHeader(answer, "Retry-After", "Seconds to wait before retrying.", JsonSchemaType.Integer);
            }
        }

        if (IsEventStream(context.MethodInfo.ReturnType) && operation.Responses.TryGetValue("200", out var ok) && ok is OpenApiResponse stream)
        {
            stream.Description = "Server-Sent Events: `event: progress` with the job as JSON in `data` at every change, then `event: end` with the finished job.";
            stream.Content = new Dictionary<string, OpenApiMediaType>
            {
                ["text/event-stream"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A stream of Server-Sent Events." } },
            };
        }
    }

    private static void DescribeKey(OpenApiOperation operation, string? method)
    {
        Describe(operation, "key", "The key, 1 to 1024 UTF-8 bytes, percent-encoded as a path segment; `/` may be sent as is or as `%2F`, both mean the same key.");
        if (method == "PUT")
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Description = "The value: any JSON value, stored byte for byte (up to 1 MiB).",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = OpenApiSetup.AnyJson(), Example = System.Text.Json.Nodes.JsonNode.Parse("""{"name": "alice", "balance": 10}""") },
                },
            };
            Describe(operation, "ttlSeconds", "The key expires this many seconds after the write (not on transactional tables).");
            Describe(operation, "lease", "The id of a live lease of the caller's tenant: the key is deleted when the lease ends (404 lease-not-found, nothing written, for an ended or unknown lease; not on transactional tables).");
            AddHeaderParameter(operation, "If-None-Match", "`*`: write only if the key does not exist (412 otherwise).");
        }

        if (method is "PUT" or "DELETE")
        {
            AddHeaderParameter(operation, "If-Match", "`\"<version>\"`: write or delete only if the key is at this version (412 otherwise).");
            AddHeaderParameter(operation, "Fencing-Token", "`<lock name>=<token>` (a lock of the caller's tenant and a token its acquire returned): refuse the write (409 fenced) when a higher token of that lock already wrote this key, or the lock never issued the token.");
        }

        if (method is "PUT" or "GET")
        {
            foreach (var status in new[] { "200", "201" })
            {
                if (operation.Responses!.TryGetValue(status, out var response) && response is OpenApiResponse answer)
                {
                    AddHeader(answer, "ETag", "The key's version, quoted: `\"<version>\"`.");
                }
            }
        }
    }

    // The resume cursor is read from the request headers, not a bound parameter, so the document
    // would not show it; election observe takes no cursor (it starts at the leader now), so it has none.
    private static void DescribeWatch(OpenApiOperation operation)
    {
        Describe(operation, "prefix", "Only keys starting with this prefix (default: every key).");
        Describe(operation, "fromRevision", "Start at this revision of every shard (a whole number); not together with Last-Event-ID.");
        AddHeaderParameter(operation, "Last-Event-ID", "Resume after this event: the `id:` of an event (change or progress) this watch sent, unchanged. " +
                                                       "The stream then delivers every change after it, none twice; 410 compacted when it is older than the retained history.");
    }

    private static void Describe(OpenApiOperation operation, string name, string description)
    {
        foreach (var parameter in operation.Parameters!.OfType<OpenApiParameter>().Where(p => p.Name == name))
        {
            parameter.Description ??= description;
        }
    }

    private static void AddHeaderParameter(OpenApiOperation operation, string name, string description)
    {
        if (operation.Parameters!.Any(p => p.Name == name))
        {
            return;
        }

        operation.Parameters!.Add(new OpenApiParameter
        {
            Name = name,
            In = ParameterLocation.Header,
            Required = false,
            Description = description,
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });
    }

    private static void AddHeader(OpenApiResponse response, string name, string description, JsonSchemaType type = JsonSchemaType.String)
    {
        response.Headers ??= new Dictionary<string, IOpenApiHeader>();
        response.Headers[name] = new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = type } };
    }

    private static bool IsEventStream(Type type) =>
        (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ServerSentEventsResult<>))
        || type.GetGenericArguments().Any(IsEventStream);
}
