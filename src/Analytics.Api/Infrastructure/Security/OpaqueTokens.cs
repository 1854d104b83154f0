using System.Security.Cryptography;
using System.Text;

namespace Analytics.Api.Infrastructure.Security;

/// <summary>
/// High-entropy secrets handed to clients (refresh tokens, activation links). Only their SHA-256 is stored:
/// for 256 random bits a fast hash is right, and a stolen table yields nothing usable.
/// </summary>
public static class OpaqueTokens
{
    public static string New() => Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>A uniformly random numeric code of <paramref name="digits"/> digits, e.g. "042917".</summary>
    public static string NumericCode(int digits) =>
        RandomNumberGenerator.GetInt32(0, (int)Math.Pow(10, digits)).ToString($"D{digits}", System.Globalization.CultureInfo.InvariantCulture);

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
