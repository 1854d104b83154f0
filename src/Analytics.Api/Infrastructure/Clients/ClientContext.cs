using System.Net;
using System.Net.Sockets;
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

    /// <summary>
    /// Whom per-address limits count against: an IPv4 address as it is, an IPv6 address by its /64 network (the
    /// smallest allocation a subscriber gets; a host there picks any address in it at will, so counting single
    /// addresses would give it unlimited attempts).
    /// </summary>
    public string LimitKey => Ip switch
    {
        null => "unknown",
        { IsIPv4MappedToIPv6: true } mapped => mapped.MapToIPv4().ToString(),
        { AddressFamily: AddressFamily.InterNetworkV6 } v6 => Network64(v6),
        var v4 => v4.ToString(),
    };

    private string Traits { get; init; } = "";

    // Never between the two halves of a character beyond the BMP (an emoji): PostgreSQL cannot store half of one, and the
    // write that carried it would fail, together with every request committed with it.
    private static string Cut(string value)
    {
        var length = Math.Min(value.Length, MaxUserAgentLength);
        return value[..(length < value.Length && char.IsHighSurrogate(value[length - 1]) ? length - 1 : length)];
    }

    private static string Network64(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return $"{new IPAddress(bytes)}/64";
    }

    public static ClientContext From(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var headers = http.Request.Headers;
        var userAgent = headers.UserAgent.ToString() is { Length: > 0 } ua ? Cut(ua) : null;
        var traits = string.Join('\n', userAgent, headers.AcceptLanguage.ToString(), headers["Sec-CH-UA-Platform"].ToString(), headers["Sec-CH-UA"].ToString());
        return new ClientContext(http.Connection.RemoteIpAddress, userAgent, UserAgentInfo.Parse(userAgent)) { Traits = traits };
    }
}
