using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Analytics.Api.Infrastructure.Http;

/// <summary>Writes every instant as ISO-8601 UTC (<c>2026-11-21T19:17:39.123Z</c>); reads any ISO-8601 offset, and UTC when there is none.</summary>
internal sealed class UtcDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        // Text without an offset ("2026-03-01T10:00:00", "2026-03-01") is UTC, as in query strings, never the host's
        // time zone (TryGetDateTimeOffset alone would read it as local time). "Z" (Kind Utc) needs no second parse;
        // another offset is read again with it (TryGetDateTime turned it into the host's local time).
        if (reader.TokenType == JsonTokenType.String && reader.TryGetDateTime(out var time))
        {
            if (time.Kind is DateTimeKind.Unspecified or DateTimeKind.Utc)
            {
                return new DateTimeOffset(time, TimeSpan.Zero);
            }

            if (reader.TryGetDateTimeOffset(out var value))
            {
                return value;
            }
        }

        throw new JsonException("Expected an ISO-8601 date and time, e.g. 2026-11-21T19:17:39Z.");
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
    }
}
