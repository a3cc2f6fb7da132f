using System.Diagnostics;
using System.Text.Json.Serialization;
using OrleansCompute.Api.Cluster;
using OrleansCompute.Api.Conventions;
using OrleansCompute.Api.Coordination;
using OrleansCompute.Api.Data;
using OrleansCompute.Api.Errors;
using OrleansCompute.Api.Jobs;
using OrleansCompute.Api.Observability;
using OrleansCompute.Api.OpenApi;
using OrleansCompute.Api.Security;
using OrleansCompute.Api.Tenancy;
using OrleansCompute.Api.Transactions;
using OrleansCompute.Api.WebConsole;

// appsettings.json ships beside the binary; the working directory may be anywhere.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});

// Kestrel starts serving (health, 503s) while the Orleans client is still looking for silos.
builder.Services.Configure<HostOptions>(o => o.ServicesStartConcurrently = true);
builder.WebHost.ConfigureKestrel((context, kestrel) =>
    kestrel.Limits.MaxRequestBodySize = RequestBodyLimit.Bytes(context.Configuration));

builder.Services.AddSingleton<ClusterConnection>();
builder.Services.AddSingleton<OrleansCompute.Deadlines.StoreClock>();
builder.Services.AddSingleton<ClusterClientHost>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<ClusterClientHost>());
builder.Services.AddSingleton<IClusterClient>(sp => sp.GetRequiredService<ClusterClientHost>().Client);
builder.Services.AddSingleton<IGrainFactory>(sp => sp.GetRequiredService<ClusterClientHost>().Client);
builder.Services.AddHostedService<ClusterProbe>();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<TableClient>();
builder.Services.AddSingleton<TransactionClient>();
builder.Services.Configure<KeyValueLimits>(builder.Configuration.GetSection("KeyValue"));
builder.Services.Configure<TransactionLimits>(builder.Configuration.GetSection("Transactions"));
builder.Services.Configure<CoordinationLimits>(builder.Configuration.GetSection("Coordination"));
builder.Services.Configure<RequestDeadlineOptions>(builder.Configuration.GetSection("Requests"));
builder.Services.Configure<OrleansCompute.Api.Data.Watch.WatchLimits>(builder.Configuration.GetSection("Watch"));
// Per-tenant slots counted across all Api processes (Api/Tenancy/TenantSlots.cs); a wrong period must not be found out under load.
builder.Services.AddOptions<TenantSlotOptions>().Bind(builder.Configuration.GetSection("Slots"))
    .Validate(o => o.RenewPeriod > TimeSpan.Zero, "Slots:RenewPeriod must be positive.").ValidateOnStart();
builder.Services.AddSingleton<WaiterSlots>();
builder.Services.AddSingleton<OrleansCompute.Api.Data.Watch.WatchSlots>();
builder.Services.AddSingleton<TenantSlots>(sp => sp.GetRequiredService<WaiterSlots>());
builder.Services.AddSingleton<TenantSlots>(sp => sp.GetRequiredService<OrleansCompute.Api.Data.Watch.WatchSlots>());
builder.Services.AddHostedService<TenantSlotRenewal>();
builder.Services.AddSingleton<OrleansCompute.Api.Data.Watch.ShardFeeds>();

builder.AddApiSecurity();
builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
{
    context.ProblemDetails.Extensions["traceId"] = Activity.Current?.Id ?? context.HttpContext.TraceIdentifier;
    RequestConventions.DescribeFrameworkAnswers(context);
});
builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
// Malformed bodies throw, so the exception handler can say what was wrong with them.
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
    o.SerializerOptions.Converters.Add(new UtcTimestampConverter());
    o.SerializerOptions.Converters.Add(new UtcDateTimeConverter());
});

builder.Services.AddApiDocument();

// Metrics, traces and JSON logs: Api/Observability, docs/observability.md.
builder.AddApiTelemetry();

var app = builder.Build();

// PostgreSQL mode is a shared deployment: it must not come up with no way to administer it,
// nor with a key generated where nobody sees it.
if (!string.IsNullOrWhiteSpace(app.Configuration.GetConnectionString("Postgres"))
    && string.IsNullOrEmpty(app.Configuration["Auth:AdminKey"]))
{
    const string message = "Auth__AdminKey is required in PostgreSQL mode: set it to a long random secret (e.g. `openssl rand -base64 32`). The Api will not start without it.";
    Console.Error.WriteLine(message);
    throw new InvalidOperationException(message);
}

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRequestBodyLimit(RequestBodyLimit.Bytes(app.Configuration));
app.UseJsonByDefault();
app.UseRouting();
// After routing (an endpoint may wait on purpose and be exempt), before everything that waits.
app.UseRequestDeadlines();
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();
app.UseRequestConventions();
app.UseApiDocument();

app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" })).ExcludeFromDescription();
app.MapGet("/health/ready", (ClusterConnection connection) => connection.IsConnected
        ? Results.Ok(new { status = "ready" })
        : Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, type: ProblemTypes.ClusterUnavailable, title: "Not connected to the cluster"))
    .ExcludeFromDescription();
app.MapApiMetrics();
app.MapConsole(); // the web console at /console (Api/WebConsole)

// Every /v1 endpoint needs an authenticated caller; each also names the scope it requires.
var v1 = app.MapGroup("/v1")
    .RequireAuthorization()
    .RequireRateLimiting(SecuritySetup.PerKeyRateLimit)
    .AddEndpointFilter<ClusterAvailabilityFilter>()
    .ProducesProblem(StatusCodes.Status401Unauthorized)
    .ProducesProblem(StatusCodes.Status403Forbidden)
    .ProducesProblem(StatusCodes.Status429TooManyRequests)
    .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
    .ProducesProblem(StatusCodes.Status500InternalServerError);
v1.MapClusterEndpoints();
v1.MapTableEndpoints();
v1.MapKeyEndpoints();
v1.MapWatchEndpoints();
v1.MapJobEndpoints();
v1.MapScheduleEndpoints();
v1.MapTxnEndpoints();
v1.MapLeaseEndpoints();
v1.MapLockEndpoints();
v1.MapElectionEndpoints();
v1.MapAdminEndpoints();
SecuritySetup.EnsureEveryEndpointNamesAScope(app, "/v1");

app.Run();

/// <summary>The Api's entry point; public so tests can host it with WebApplicationFactory.</summary>
public partial class Program;
