using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Analytics.Api.Infrastructure.Security;

/// <summary>
/// The three libsodium functions behind Argon2id password hashes (no .NET Argon2 package restores here): the
/// hasher's way on CPUs without AVX2 and for PHC strings that <see cref="Argon2id"/> does not take.
/// Debian ships only <c>libsodium.so.23</c> without the -dev package, so the library is resolved by hand.
/// </summary>
internal static partial class Sodium
{
    public const int StrBytes = 128;
    private const int AlgArgon2Id13 = 2;
    private const string Library = "sodium";

    private static readonly Lazy<bool> Initialised = new(() =>
    {
        NativeLibrary.SetDllImportResolver(typeof(Sodium).Assembly, Resolve);
        return sodium_init() >= 0;
    });

    public static void EnsureLoaded()
    {
        try
        {
            if (!Initialised.Value)
            {
                throw new InvalidOperationException("libsodium failed to initialise.");
            }
        }
        catch (DllNotFoundException ex)
        {
            throw new InvalidOperationException("libsodium is not installed: install the 'libsodium23' package (apt-get install libsodium23) or your OS's libsodium.", ex);
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library)
        {
            return IntPtr.Zero;
        }

        foreach (var candidate in new[] { "libsodium.so.23", "libsodium.so", "libsodium.dylib", "libsodium" })
        {
            if (NativeLibrary.TryLoad(candidate, assembly, path, out var handle))
            {
                return handle;
            }
        }

        throw new DllNotFoundException("libsodium");
    }

    /// <summary>A libsodium Argon2id v1.3 PHC string for the password (UTF-8).</summary>
    public static string Hash(byte[] password, uint iterations, uint memoryKib)
    {
        Span<byte> output = stackalloc byte[StrBytes];
        if (crypto_pwhash_str_alg(output, password, (ulong)password.Length, iterations, (nuint)memoryKib * 1024, AlgArgon2Id13) != 0)
        {
            throw new InvalidOperationException("Argon2id hashing failed (out of memory?).");
        }

        return Encoding.ASCII.GetString(output[..output.IndexOf((byte)0)]);
    }

    /// <summary>libsodium's check of any Argon2 PHC string; <c>NeedsRehash</c> when its parameters are not the given ones.</summary>
    public static PasswordCheck Verify(string hash, byte[] password, uint iterations, uint memoryKib)
    {
        var hashZ = new byte[Encoding.ASCII.GetByteCount(hash) + 1];
        Encoding.ASCII.GetBytes(hash, hashZ);
        var matches = crypto_pwhash_str_verify(hashZ, password, (ulong)password.Length) == 0;
        var needsRehash = matches && crypto_pwhash_str_needs_rehash(hashZ, iterations, (nuint)memoryKib * 1024) != 0;
        return new PasswordCheck(matches, needsRehash);
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_pwhash_str_alg(Span<byte> output, ReadOnlySpan<byte> password, ulong passwordLength, ulong opsLimit, nuint memLimit, int alg);

    [LibraryImport(Library)]
    private static partial int crypto_pwhash_str_verify(ReadOnlySpan<byte> hash, ReadOnlySpan<byte> password, ulong passwordLength);

    [LibraryImport(Library)]
    private static partial int crypto_pwhash_str_needs_rehash(ReadOnlySpan<byte> hash, ulong opsLimit, nuint memLimit);
}
