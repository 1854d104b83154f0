using System.Text.Json;
using Analytics.Api.Infrastructure.Http;

namespace Analytics.Api.Tests.Infrastructure.Http;

public sealed class UtcDateTimeOffsetConverterTests
{
    private static DateTimeOffset Read(string json)
    {
        var options = new JsonSerializerOptions();
        HttpApiExtensions.ConfigureJson(options);
        return JsonSerializer.Deserialize<DateTimeOffset>(json, options);
    }

    [Fact]
    public void An_instant_without_an_offset_is_UTC_whatever_the_hosts_time_zone()
    {
        var zone = Environment.GetEnvironmentVariable("TZ");
        Environment.SetEnvironmentVariable("TZ", "Asia/Kolkata");
        TimeZoneInfo.ClearCachedData();
        try
        {
            TimeZoneInfo.Local.BaseUtcOffset.ShouldBe(TimeSpan.FromHours(5.5));

            Read("\"2026-03-01T10:00:00\"").ShouldBe(new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero));
            Read("\"2026-03-01\"").ShouldBe(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
            Read("\"2026-03-01T10:00:00Z\"").ShouldBe(new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero));
            Read("\"2026-03-01T10:00:00+02:00\"").ShouldBe(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));
        }
        finally
        {
            Environment.SetEnvironmentVariable("TZ", zone);
            TimeZoneInfo.ClearCachedData();
        }
    }

    [Theory]
    [InlineData("\"yesterday\"")]
    [InlineData("\"2026-02-30T10:00:00Z\"")]
    [InlineData("1772359200")]
    public void Anything_else_is_refused(string json) =>
        Should.Throw<JsonException>(() => Read(json)).Message.ShouldContain("ISO-8601");
}
