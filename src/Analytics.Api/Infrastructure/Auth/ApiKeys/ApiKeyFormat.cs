using System.Buffers;
using System.Diagnostics.CodeAnalysis;
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
    private static readonly int SecretStart = Prefix.Length + PublicIdLength + 1;
    private static readonly SearchValues<char> Base62Chars = SearchValues.Create(Alphabet);

    public static (string Key, string PublicId, byte[] SecretHash) New()
    {
        var publicId = Base62(RandomNumberGenerator.GetBytes(9), PublicIdLength);
        var secret = Base62(RandomNumberGenerator.GetBytes(32), SecretLength);
        return ($"{Prefix}{publicId}_{secret}", publicId, HashSecret(secret));
    }

    /// <summary>Whether <paramref name="key"/> has the shape of a key; if so, its public id.</summary>
    public static bool TryParse(string? key, [NotNullWhen(true)] out string? publicId)
    {
        publicId = null;
        if (key is null || key.Length != SecretStart + SecretLength || !key.StartsWith(Prefix, StringComparison.Ordinal) || key[SecretStart - 1] != '_'
            || key.AsSpan(Prefix.Length, PublicIdLength).ContainsAnyExcept(Base62Chars) || key.AsSpan(SecretStart).ContainsAnyExcept(Base62Chars))
        {
            return false;
        }

        publicId = key.Substring(Prefix.Length, PublicIdLength);
        return true;
    }

    /// <summary>What is stored of a key: SHA-256 of its secret's ASCII bytes.</summary>
    private static byte[] HashSecret(string secret)
    {
        var hash = new byte[SHA256.HashSizeInBytes];
        Hash(secret, hash);
        return hash;
    }

    /// <summary>Whether the secret of <paramref name="key"/>, a key <see cref="TryParse"/> accepted, hashes to <paramref name="storedHash"/>.</summary>
    public static bool SecretMatches(string key, byte[] storedHash)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != SecretStart + SecretLength)
        {
            return false;
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Hash(key.AsSpan(SecretStart), hash);
        return CryptographicOperations.FixedTimeEquals(hash, storedHash);
    }

    // From stack buffers: the key check on every API-key request allocates nothing here.
    private static void Hash(ReadOnlySpan<char> secret, Span<byte> hash)
    {
        Span<byte> ascii = stackalloc byte[SecretLength];
        SHA256.HashData(ascii[..Encoding.ASCII.GetBytes(secret, ascii)], hash);
    }

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
