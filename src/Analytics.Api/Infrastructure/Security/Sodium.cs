using System.Reflection;
using System.Runtime.InteropServices;

namespace Analytics.Api.Infrastructure.Security;

/// <summary>
/// The three libsodium functions behind Argon2id password hashes (no .NET Argon2 package restores here).
/// Debian ships only <c>libsodium.so.23</c> without the -dev package, so the library is resolved by hand.
/// </summary>
internal static partial class Sodium
{
    public const int StrBytes = 128;
    public const int AlgArgon2Id13 = 2;
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

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    internal static partial int crypto_pwhash_str_alg(Span<byte> output, ReadOnlySpan<byte> password, ulong passwordLength, ulong opsLimit, nuint memLimit, int alg);

    [LibraryImport(Library)]
    internal static partial int crypto_pwhash_str_verify(ReadOnlySpan<byte> hash, ReadOnlySpan<byte> password, ulong passwordLength);

    [LibraryImport(Library)]
    internal static partial int crypto_pwhash_str_needs_rehash(ReadOnlySpan<byte> hash, ulong opsLimit, nuint memLimit);
}
