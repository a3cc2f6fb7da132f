using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansCompute.Jobs;

namespace OrleansCompute.Grains.Jobs.Kinds;

/// <summary>The JSON types an input field may have.</summary>
public enum FieldType
{
    Integer,
    Number,
    String,
    Boolean,
}

/// <summary>One field of an input object, with the bounds the schema enforces.</summary>
public sealed record SchemaField(
    string Name,
    FieldType Type,
    string Description,
    bool Required = false,
    double? Minimum = null,
    double? Maximum = null,
    int? MaxLength = null,
    JsonNode? Default = null);

/// <summary>
/// The input of a task kind: a JSON object with known fields, no others. Small on purpose — it
/// covers what kinds need (types, required, bounds) — and it is both the published JSON Schema
/// and the validator, so the two cannot disagree.
/// </summary>
public sealed class InputSchema(params SchemaField[] fields)
{
    public IReadOnlyList<SchemaField> Fields { get; } = fields;

    /// <summary>The schema as JSON Schema (draft 2020-12).</summary>
    public JsonObject ToJsonSchema()
    {
        var properties = new JsonObject();
        foreach (var field in Fields)
        {
            var property = new JsonObject
            {
                ["type"] = field.Type.ToString().ToLowerInvariant(),
                ["description"] = field.Description,
            };
            if (field.Minimum is { } minimum)
            {
                property["minimum"] = minimum;
            }

            if (field.Maximum is { } maximum)
            {
                property["maximum"] = maximum;
            }

            if (field.MaxLength is { } maxLength)
            {
                property["maxLength"] = maxLength;
            }

            if (field.Default is { } value)
            {
                property["default"] = value.DeepClone();
            }

            properties[field.Name] = property;
        }

        return new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["type"] = "object",
            ["properties"] = properties,
            ["required"] = new JsonArray(Fields.Where(f => f.Required).Select(f => (JsonNode)f.Name).ToArray()),
            ["additionalProperties"] = false,
        };
    }

    /// <summary>Every way <paramref name="input"/> breaks the schema; fields are named "input.&lt;name&gt;".</summary>
    public IReadOnlyList<FieldError> Validate(JsonElement input)
    {
        if (input.ValueKind != JsonValueKind.Object)
        {
            return [new FieldError("input", "must be a JSON object.")];
        }

        var errors = new List<FieldError>();
        foreach (var property in input.EnumerateObject())
        {
            if (!Fields.Any(f => f.Name == property.Name))
            {
                errors.Add(new FieldError($"input.{property.Name}", $"is not a field of this kind; known fields: {string.Join(", ", Fields.Select(f => f.Name))}."));
            }
        }

        foreach (var field in Fields)
        {
            var name = $"input.{field.Name}";
            if (!input.TryGetProperty(field.Name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (field.Required)
                {
                    errors.Add(new FieldError(name, "is required."));
                }

                continue;
            }

            if (Check(field, value) is { } message)
            {
                errors.Add(new FieldError(name, message));
            }
        }

        return errors;
    }

    private static string? Check(SchemaField field, JsonElement value)
    {
        switch (field.Type)
        {
            case FieldType.Integer when value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out _):
                return "must be an integer.";
            case FieldType.Number when value.ValueKind != JsonValueKind.Number:
                return "must be a number.";
            case FieldType.String when value.ValueKind != JsonValueKind.String:
                return "must be a string.";
            case FieldType.Boolean when value.ValueKind is not (JsonValueKind.True or JsonValueKind.False):
                return "must be true or false.";
            case FieldType.String when field.MaxLength is { } maxLength && value.GetString()!.Length > maxLength:
                return $"must be at most {maxLength} characters.";
            case FieldType.String when value.GetString()!.Length == 0:
                return "must not be empty.";
        }

        if (field.Type is FieldType.Integer or FieldType.Number)
        {
            var number = value.GetDouble();
            if (field.Minimum is { } minimum && number < minimum)
            {
                return $"must be at least {minimum.ToString(CultureInfo.InvariantCulture)}.";
            }

            if (field.Maximum is { } maximum && number > maximum)
            {
                return $"must be at most {maximum.ToString(CultureInfo.InvariantCulture)}.";
            }
        }

        return null;
    }
}

/// <summary>Reads fields of a schema-valid input, with defaults for the optional ones.</summary>
public static class InputFields
{
    public static long Int64(this JsonElement input, string name, long fallback = 0) =>
        input.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : fallback;

    public static string? String(this JsonElement input, string name) =>
        input.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
