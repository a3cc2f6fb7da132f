using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;

namespace OrleansCompute.Api.Errors;

/// <summary>
/// A body or parameter the framework could not bind, said in the caller's terms: the field (its JSON
/// path, or the parameter) in <c>errors</c>, what it should be, and never a .NET type name.
/// </summary>
public static partial class BodyErrors
{
    public static ProblemDetails Describe(BadHttpRequestException bad)
    {
        var (field, message) = bad.InnerException is JsonException json ? FromJson(json) : FromBinding(bad);
        return new ValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
        {
            Status = bad.StatusCode,
            Type = ProblemTypes.BadRequest,
            Title = "Malformed request",
            Detail = bad.InnerException is JsonException
                ? $"The body is not valid JSON for this request: '{field}' {message}"
                : $"'{field}' {message}",
        };
    }

    private static (string Field, string Message) FromJson(JsonException json)
    {
        var field = json.Path is null or "$" ? "body" : json.Path.StartsWith("$.", StringComparison.Ordinal) ? json.Path[2..] : json.Path.TrimStart('$');
        var text = json.Message;
        if (text.StartsWith("The JSON property", StringComparison.Ordinal) && UnmappedProperty().Match(text) is { Success: true } unmapped)
        {
            // The path points at the object holding the field; name the field itself.
            var name = unmapped.Groups["name"].Value;
            return (field == "body" ? name : $"{field}.{name}", "is not a field of this request.");
        }

        if (ConversionTarget().Match(text) is { Success: true } conversion)
        {
            return (field, $"must be {Expected(conversion.Groups["type"].Value)}.");
        }

        return (field, $"is not valid JSON (line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1}).");
    }

    private static (string Field, string Message) FromBinding(BadHttpRequestException bad)
    {
        if (BindFailure().Match(bad.Message) is { Success: true } bind)
        {
            return (bind.Groups["name"].Value, $"'{bind.Groups["value"].Value}' is not {Expected(bind.Groups["type"].Value)}.");
        }

        if (MissingParameter().Match(bad.Message) is { Success: true } missing)
        {
            return (missing.Groups["name"].Value, "is required.");
        }

        return ("body", bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase) ? "is required: send a JSON body." : "could not be read.");
    }

    private static string Expected(string dotnetType) => dotnetType switch
    {
        _ when dotnetType.Contains("Int", StringComparison.Ordinal) => "an integer",
        _ when dotnetType.Contains("Double", StringComparison.Ordinal) || dotnetType.Contains("Decimal", StringComparison.Ordinal) => "a number",
        _ when dotnetType.Contains("Boolean", StringComparison.Ordinal) || dotnetType.Contains("bool", StringComparison.Ordinal) => "true or false",
        _ when dotnetType.Contains("DateTime", StringComparison.Ordinal) => "an ISO 8601 timestamp such as 2026-12-01T12:00:00Z",
        _ when dotnetType.Contains("List", StringComparison.Ordinal) || dotnetType.Contains("[]", StringComparison.Ordinal) => "an array",
        _ when dotnetType.Contains("String", StringComparison.Ordinal) || dotnetType == "string" => "a string",
        _ => "a JSON object of the documented shape",
    };

    [GeneratedRegex("The JSON property '(?<name>[^']*)'")]
    private static partial Regex UnmappedProperty();

    [GeneratedRegex("could not be converted to (?<type>[^ .]+(\\.[^ .]+)*)")]
    private static partial Regex ConversionTarget();

    [GeneratedRegex("Failed to bind parameter \"(?<type>.+) (?<name>[^ \"]+)\" from \"(?<value>.*)\"")]
    private static partial Regex BindFailure();

    [GeneratedRegex("Required parameter \"(?<type>.+) (?<name>[^ \"]+)\" was not provided")]
    private static partial Regex MissingParameter();
}
