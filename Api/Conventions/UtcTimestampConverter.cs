using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCompute.Api.Conventions;

/// <summary>
/// Every timestamp the Api writes has one shape: UTC, millisecond precision, a <c>Z</c>
/// (<c>2026-12-01T09:30:00.123Z</c>). Reading accepts any ISO 8601 offset.
/// </summary>
public sealed class UtcTimestampConverter : JsonConverter<DateTimeOffset>
{
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture));
}

/// <summary>The same shape for <see cref="DateTime"/> values (the membership's), which are UTC.</summary>
public sealed class UtcDateTimeConverter : JsonConverter<DateTime>
{
    public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDateTimeOffset().UtcDateTime;

    public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options) =>
        writer.WriteStringValue(DateTime.SpecifyKind(value, value.Kind == DateTimeKind.Local ? DateTimeKind.Local : DateTimeKind.Utc)
            .ToUniversalTime().ToString(UtcTimestampConverter.Format, CultureInfo.InvariantCulture));
}
