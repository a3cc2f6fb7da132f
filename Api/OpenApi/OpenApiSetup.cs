using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrleansCompute.Api.OpenApi;

/// <summary>
/// The OpenAPI document as clients generate code from it: operation ids, every body and header,
/// "any JSON value" for values and results, event streams as text/event-stream, examples that
/// pass validation, and the server the document was fetched from.
/// </summary>
public static class OpenApiSetup
{
    public static void AddApiDocument(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new()
            {
                Title = "OrleansCompute",
                Version = "v1",
                Description = "Distributed jobs and sharded data on Microsoft Orleans. Every `/v1` call needs the header `Authorization: Bearer <API key>`.",
                License = new() { Name = "MIT", Url = new Uri("https://opensource.org/licenses/MIT") },
                Contact = new() { Name = "OrleansCompute maintainers" },
            });
            o.AddSecurityDefinition("bearer", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key: the bootstrap admin key (`Auth__AdminKey`) or one issued by `/v1/admin`.",
            });
            o.AddSecurityRequirement(document => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference("bearer", document)] = [],
            });
            // A value, a result or a schema is whatever JSON the caller sent or the task kind produced.
            o.MapType<JsonElement>(AnyJson);
            o.MapType<JsonElement?>(AnyJson);
            o.MapType<JsonNode>(AnyJson);
            o.MapType<JsonObject>(() => new OpenApiSchema { Type = JsonSchemaType.Object, Description = "A JSON object." });
            o.CustomOperationIds(OperationIds.For);
            o.SupportNonNullableReferenceTypes();
            o.NonNullableReferenceTypesAsRequired();
            o.SchemaFilter<ExampleAndEnumSchemaFilter>();
            o.OperationFilter<HttpContractOperationFilter>();
            o.DocumentFilter<TagDocumentFilter>();
        });
    }

    public static void UseApiDocument(this WebApplication app)
    {
        app.UseSwagger(o => o.PreSerializeFilters.Add((document, request) =>
            document.Servers = [new OpenApiServer { Url = $"{request.Scheme}://{request.Host.Value}", Description = "The Api that served this document." }]));
        app.UseSwaggerUI();
    }

    internal static OpenApiSchema AnyJson() => new() { Description = "Any JSON value: object, array, string, number, boolean or null." };
}
