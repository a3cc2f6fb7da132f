using System.Text.Json;

namespace OrleansCompute.Api;

/// <summary>Stored values are JSON text; answers embed them as JSON values.</summary>
public static class JsonValues
{
    public static JsonElement Parse(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
