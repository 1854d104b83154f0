using Analytics.Api.Infrastructure.Clients;

namespace Analytics.Api.Tests.Infrastructure.Clients;

public sealed class UserAgentInfoTests
{
    public static TheoryData<string, string, string?, string?, string?, string?> RealAgents => new()
    {
        { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.127 Safari/537.36", "desktop", "Chrome", "126.0.6478.127", "Windows", "10" },
        { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.92", "desktop", "Edge", "125.0.2535.92", "Windows", "10" },
        { "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0", "desktop", "Firefox", "115.0", "Windows", "7" },
        { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "desktop", "Safari", "17.5", "macOS", "10.15.7" },
        { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0", "desktop", "Opera", "111.0.0.0", "macOS", "10.15.7" },
        { "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", "desktop", "Firefox", "127.0", "Linux", null },
        { "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "desktop", "Chrome", "126.0.0.0", "ChromeOS", null },
        { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "mobile", "Safari", "17.5", "iOS", "17.5.1" },
        { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "mobile", "Chrome", "126.0.6478.54", "iOS", "17.5" },
        { "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", "tablet", "Safari", "16.6", "iOS", "16.6" },
        { "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36", "mobile", "Chrome", "126.0.6478.71", "Android", "14" },
        { "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "mobile", "Samsung Internet", "25.0", "Android", "13" },
        { "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "tablet", "Chrome", "126.0.0.0", "Android", "13" },
        { "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0", "mobile", "Firefox", "127.0", "Android", "14" },
        { "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", "Googlebot", "2.1", null, null },
        { "curl/8.5.0", "bot", "curl", "8.5.0", null, null },
    };

    [Theory]
    [MemberData(nameof(RealAgents))]
    public void Parse_reads_device_browser_and_os_with_versions(string userAgent, string device, string? browser, string? browserVersion, string? os, string? osVersion) =>
        UserAgentInfo.Parse(userAgent).ShouldBe(new UserAgentInfo(device, browser, browserVersion, os, osVersion));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("something nobody knows")]
    public void Parse_of_nothing_recognisable_is_unknown(string? userAgent) =>
        UserAgentInfo.Parse(userAgent).DeviceType.ShouldBe("unknown");
}
