using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace Analytics.Api.Infrastructure.Auth.ApiKeys;

/// <summary>
/// <c>ak_&lt;public id&gt;_&lt;secret&gt;</c>: a 12-character public id (looked up, shown in listings) and a 256-bit
/// secret, both base62. Only the secret's SHA-256 is stored: for a random 256-bit secret a fast hash is right.
/// </summary>
public static class ApiKeyFormat
{
    public const string Prefix = "ak_";
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private const int PublicIdLength = 12;
    private const int SecretLength = 43;

    public static (string Key, string PublicId, byte[] SecretHash) New()
    {
        var publicId = Base62(RandomNumberGenerator.GetBytes(9), PublicIdLength);
        var secret = Base62(RandomNumberGenerator.GetBytes(32), SecretLength);
        return ($"{Prefix}{publicId}_{secret}", publicId, HashSecret(secret));
    }

    public static bool TryParse(string? key, out string publicId, out string secret)
    {
        publicId = secret = "";
        if (key is null || key.Length != Prefix.Length + PublicIdLength + 1 + SecretLength || !key.StartsWith(Prefix, StringComparison.Ordinal) || key[Prefix.Length + PublicIdLength] != '_')
        {
            return false;
        }

        publicId = key.Substring(Prefix.Length, PublicIdLength);
        secret = key[(Prefix.Length + PublicIdLength + 1)..];
        return publicId.All(Alphabet.Contains) && secret.All(Alphabet.Contains);
    }

    public static byte[] HashSecret(string secret) => SHA256.HashData(Encoding.ASCII.GetBytes(secret));

    public static bool SecretMatches(string secret, byte[] storedHash) => CryptographicOperations.FixedTimeEquals(HashSecret(secret), storedHash);

    private static string Base62(byte[] bytes, int length)
    {
        var value = new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
        var text = new StringBuilder(length);
        while (text.Length < length)
        {
            text.Insert(0, Alphabet[(int)(value % 62)]);
            value /= 62;
        }

        return text.ToString();
    }
}
