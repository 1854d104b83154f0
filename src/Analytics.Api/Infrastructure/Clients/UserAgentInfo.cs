using System.Text.RegularExpressions;

namespace Analytics.Api.Infrastructure.Clients;

/// <summary>What a User-Agent header says: device type, browser and OS with versions. No parser package restores here.</summary>
public sealed partial record UserAgentInfo(string DeviceType, string? Browser, string? BrowserVersion, string? Os, string? OsVersion)
{
    public static readonly UserAgentInfo Unknown = new("unknown", null, null, null, null);

    public static UserAgentInfo Parse(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return Unknown;
        }

        var (browser, browserVersion) = ParseBrowser(userAgent);
        var (os, osVersion) = ParseOs(userAgent);
        return new UserAgentInfo(ParseDevice(userAgent, os), browser, browserVersion, os, osVersion);
    }

    private static string ParseDevice(string ua, string? os)
    {
        if (BotPattern().IsMatch(ua))
        {
            return "bot";
        }

        if (ua.Contains("iPad", StringComparison.Ordinal) || ua.Contains("Tablet", StringComparison.OrdinalIgnoreCase)
            || (os == "Android" && !ua.Contains("Mobile", StringComparison.Ordinal)))
        {
            return "tablet";
        }

        if (ua.Contains("Mobi", StringComparison.Ordinal) || ua.Contains("iPhone", StringComparison.Ordinal) || ua.Contains("iPod", StringComparison.Ordinal))
        {
            return "mobile";
        }

        return os is null ? "unknown" : "desktop";
    }

    // Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
    private static (string?, string?) ParseBrowser(string ua)
    {
        foreach (var (name, pattern) in Browsers)
        {
            var match = pattern.Match(ua);
            if (match.Success)
            {
                return (name, match.Groups[1].Value);
            }
        }

        return (null, null);
    }

    private static readonly (string Name, Regex Pattern)[] Browsers =
    [
        ("Edge", new Regex(@"Edg(?:e|A|iOS)?/([\d.]+)", RegexOptions.Compiled)),
        ("Opera", new Regex(@"(?:OPR|Opera)/([\d.]+)", RegexOptions.Compiled)),
        ("Samsung Internet", new Regex(@"SamsungBrowser/([\d.]+)", RegexOptions.Compiled)),
        ("Firefox", new Regex(@"(?:Firefox|FxiOS)/([\d.]+)", RegexOptions.Compiled)),
        ("Chrome", new Regex(@"(?:Chrome|CriOS)/([\d.]+)", RegexOptions.Compiled)),
        ("Safari", new Regex(@"Version/([\d.]+).*Safari/", RegexOptions.Compiled)),
        ("curl", new Regex(@"^curl/([\d.]+)", RegexOptions.Compiled)),
        ("Googlebot", new Regex(@"Googlebot/([\d.]+)", RegexOptions.Compiled)),
    ];

    private static (string?, string?) ParseOs(string ua)
    {
        if (WindowsPattern().Match(ua) is { Success: true } windows)
        {
            return ("Windows", windows.Groups[1].Value switch
            {
                "10.0" => "10",
                "6.3" => "8.1",
                "6.2" => "8",
                "6.1" => "7",
                var other => other,
            });
        }

        if (IosPattern().Match(ua) is { Success: true } ios)
        {
            return ("iOS", ios.Groups[1].Value.Replace('_', '.'));
        }

        if (MacPattern().Match(ua) is { Success: true } mac)
        {
            return ("macOS", mac.Groups[1].Value.Replace('_', '.'));
        }

        if (AndroidPattern().Match(ua) is { Success: true } android)
        {
            return ("Android", android.Groups[1].Value);
        }

        if (ua.Contains("CrOS", StringComparison.Ordinal))
        {
            return ("ChromeOS", null);
        }

        if (ua.Contains("Linux", StringComparison.Ordinal))
        {
            return ("Linux", null);
        }

        return (null, null);
    }

    [GeneratedRegex(@"bot|crawler|spider|slurp|curl/|wget/|python-requests|httpclient", RegexOptions.IgnoreCase)]
    private static partial Regex BotPattern();

    [GeneratedRegex(@"Windows NT ([\d.]+)")]
    private static partial Regex WindowsPattern();

    [GeneratedRegex(@"(?:iPhone|iPad|iPod).*? OS ([\d_]+)")]
    private static partial Regex IosPattern();

    [GeneratedRegex(@"Mac OS X ([\d_.]+)")]
    private static partial Regex MacPattern();

    [GeneratedRegex(@"Android ([\d.]+)")]
    private static partial Regex AndroidPattern();
}
