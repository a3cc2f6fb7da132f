using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OrleansCompute.Api.Security;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Tests.Unit;

public class ScopeConventionTests
{
    [Fact]
    public void An_endpoint_without_a_scope_stops_the_start()
    {
        var app = WebApplication.CreateBuilder().Build();
        var v1 = app.MapGroup("/v1").RequireAuthorization();
        v1.MapGet("/scoped", () => "ok").RequireScope(Scopes.DataRead);
        v1.MapGet("/forgotten", () => "ok");

        var error = Assert.Throws<InvalidOperationException>(() => SecuritySetup.EnsureEveryEndpointNamesAScope(app, "/v1"));

        Assert.Contains("forgotten", error.Message);
        Assert.DoesNotContain("scoped", error.Message);
    }

    [Fact]
    public void Endpoints_that_all_name_a_scope_pass()
    {
        var app = WebApplication.CreateBuilder().Build();
        app.MapGroup("/v1").MapGet("/a", () => Results.Ok()).RequireScope(Scopes.Admin);
        app.MapGet("/health", () => Results.Ok());

        Assert.Null(Record.Exception(() => SecuritySetup.EnsureEveryEndpointNamesAScope(app, "/v1")));
    }
}
