using OrleansCompute.Api.Errors;
using OrleansCompute.Data;

namespace OrleansCompute.Api.Data;

/// <summary>
/// Validates the names in a route before its handler runs: <c>{table}</c> and <c>{name}</c> by the
/// name rule, <c>{key}</c> by the key rule. A group that adds it answers a bad name one way, with
/// the field named, and its handlers only ever see valid names.
/// </summary>
public sealed class RouteNamesFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var route = context.HttpContext.Request.RouteValues;
        var errors = new Dictionary<string, string[]>();
        foreach (var (field, what) in (ReadOnlySpan<(string, string)>)[("table", "table name"), ("name", "name")])
        {
            if (route.TryGetValue(field, out var value) && value is string name && !TableNames.IsValid(name))
            {
                errors[field] = [$"'{name}' is not a valid {what}: {TableNames.Rule}."];
            }
        }

        if (route.TryGetValue("key", out var key) && KeyValueLimits.KeyError(key as string) is { } keyError)
        {
            errors["key"] = [keyError];
        }

        return errors.Count > 0 ? ValueTask.FromResult<object?>(Problems.Invalid(errors)) : next(context);
    }
}
