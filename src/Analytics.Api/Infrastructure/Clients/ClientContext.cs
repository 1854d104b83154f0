using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Analytics.Api.Infrastructure.Clients;

/// <summary>
/// What the request itself says about the client: IP (already corrected by the forwarded-headers middleware
/// for trusted proxies only), user agent and what it tells, and a fingerprint of stable request traits.
/// </summary>
public sealed record ClientContext(IPAddress? Ip, string? UserAgent, UserAgentInfo Agent)
{
    public const int MaxUserAgentLength = 512;

    /// <summary>A hash of the client's self-description, computed when read (sign-ins record it; events do not).</summary>
    public string Fingerprint => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Traits)))[..32];

    private string Traits { get; init; } = "";

    public static ClientContext From(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var headers = http.Request.Headers;
        var userAgent = headers.UserAgent.ToString() is { Length: > 0 } ua ? ua[..Math.Min(ua.Length, MaxUserAgentLength)] : null;
        var traits = string.Join('\n', userAgent, headers.AcceptLanguage.ToString(), headers["Sec-CH-UA-Platform"].ToString(), headers["Sec-CH-UA"].ToString());
        return new ClientContext(http.Connection.RemoteIpAddress, userAgent, UserAgentInfo.Parse(userAgent)) { Traits = traits };
    }
}
