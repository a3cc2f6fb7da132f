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
    /// <param name="bad">The framework's complaint.</param>
    /// <param name="bodyType">The type the body binds to, to say what a mistyped field should be.</param>
    public static ProblemDetails Describe(BadHttpRequestException bad, Type? bodyType)
    {
        var (field, message) = bad.InnerException is JsonException json ? FromJson(json, bodyType) : FromBinding(bad);
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

    private static (string Field, string Message) FromJson(JsonException json, Type? bodyType)
    {
        var field = json.Path is null or "$" ? "body" : json.Path.StartsWith("$.", StringComparison.Ordinal) ? json.Path[2..] : json.Path.TrimStart('$');
        var text = json.Message;
        if (text.StartsWith("The JSON property", StringComparison.Ordinal) && UnmappedProperty().Match(text) is { Success: true } unmapped)
        {
            // The path may point at the field or at the object holding it; name the field itself.
            var name = unmapped.Groups["name"].Value;
            return (field == "body" ? name : field.EndsWith(name, StringComparison.Ordinal) ? field : $"{field}.{name}", "is not a field of this request.");
        }

        if (text.Contains("could not be converted", StringComparison.Ordinal))
        {
            return (field, $"must be {(FieldType(bodyType, field) is { } type ? Expected(type) : "a value of the documented type")}.");
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

    /// <summary>The type of the field at a JSON path (<c>retry.maxAttempts</c>, <c>ops[2].ifVersion</c>) of the body type.</summary>
    private static Type? FieldType(Type? type, string path)
    {
        foreach (var segment in path.Split('.'))
        {
            var name = segment.Split('[')[0];
            type = type?.GetProperty(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)?.PropertyType;
            if (segment.Contains('[') && type is not null)
            {
                type = type.IsArray ? type.GetElementType() : type.GetGenericArguments().FirstOrDefault();
            }
        }

        return type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
    }

    private static string Expected(Type type) => Type.GetTypeCode(type) switch
    {
        TypeCode.Int16 or TypeCode.Int32 or TypeCode.Int64 or TypeCode.UInt16 or TypeCode.UInt32 or TypeCode.UInt64 or TypeCode.Byte => "an integer",
        TypeCode.Double or TypeCode.Single or TypeCode.Decimal => "a number",
        TypeCode.Boolean => "true or false",
        TypeCode.String => "a string",
        _ when type == typeof(DateTimeOffset) => "an ISO 8601 timestamp such as 2026-12-01T12:00:00Z",
        _ when type != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(type) => "an array",
        _ => "an object",
    };

    private static string Expected(string dotnetType) => dotnetType switch
    {
        _ when dotnetType.Contains("Int", StringComparison.Ordinal) => "an integer",
        _ when dotnetType.Contains("Double", StringComparison.Ordinal) => "a number",
        _ when dotnetType.Contains("bool", StringComparison.OrdinalIgnoreCase) => "true or false",
        _ => "a valid value",
    };

    [GeneratedRegex("The JSON property '(?<name>[^']*)'")]
    private static partial Regex UnmappedProperty();

    [GeneratedRegex("Failed to bind parameter \"(?<type>.+) (?<name>[^ \"]+)\" from \"(?<value>.*)\"")]
    private static partial Regex BindFailure();

    [GeneratedRegex("Required parameter \"(?<type>.+) (?<name>[^ \"]+)\" was not provided")]
    private static partial Regex MissingParameter();
}
