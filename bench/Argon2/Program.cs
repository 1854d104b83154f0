using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Analytics.Api.Infrastructure.Security;

// Raw libsodium Argon2id hashes per second, one thread per core, at the service's parameters (the reference for
// the login scenario). Usage: Analytics.Bench.Argon2 [seconds=5] [memoryKib=19456] [iterations=2] [libsodium|service]
// Prints one JSON line. "service" measures the service's own Argon2id instead (src/.../Security/Argon2id.cs, one
// block area per thread kept between hashes, as the service's hashing slots keep them), for comparison. "Analytics.Bench.Argon2 hash PASSWORD memoryKib iterations" prints the PHC string instead
// (run.sh uses it to give the login users a negligible hash when it measures the sign-in's other work).
if (args is ["hash", var plain, var kib, var passes])
{
    Sodium.Init();
    Console.WriteLine(Sodium.Hash(plain, int.Parse(passes, CultureInfo.InvariantCulture), int.Parse(kib, CultureInfo.InvariantCulture)));
    return;
}

var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
var memoryKib = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 19456;
var iterations = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
var implementation = args.Length > 3 ? args[3] : "libsodium";
if (implementation == "service" && !Argon2id.IsSupported)
{
    // Without AVX2 the service itself hashes with libsodium: that is what its rate is.
    implementation = "libsodium (the service's fallback: no AVX2)";
}

var threads = Environment.ProcessorCount;

Sodium.Init();
using var areas = new HashMemory(Argon2id.Blocks((uint)memoryKib, 1));
Action<string> hash = implementation switch
{
    _ when implementation.StartsWith("libsodium", StringComparison.Ordinal) => password => Sodium.Hash(password, iterations, memoryKib),
    "service" => password =>
    {
        var area = areas.Rent();
        Span<byte> tag = stackalloc byte[32];
        Argon2id.Hash(Encoding.UTF8.GetBytes(password), "0123456789abcdef"u8, [], [], (uint)iterations, (uint)memoryKib, 1, tag, area);
        areas.Return(area);
    },
    _ => throw new ArgumentException($"unknown implementation {implementation}: libsodium or service"),
};
hash("warm-up password");

var counts = new long[threads];
var stopwatch = Stopwatch.StartNew();
var deadline = TimeSpan.FromSeconds(seconds);
var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
{
    var password = $"benchmark password {t}";
    while (stopwatch.Elapsed < deadline)
    {
        hash(password);
        counts[t]++;
    }
})).ToList();
workers.ForEach(w => w.Start());
workers.ForEach(w => w.Join());
var elapsed = stopwatch.Elapsed.TotalSeconds;
var total = counts.Sum();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $$"""{"implementation":"{{implementation}}","threads":{{threads}},"memoryKib":{{memoryKib}},"iterations":{{iterations}},"hashes":{{total}},"seconds":{{elapsed:F3}},"hashesPerSecond":{{total / elapsed:F2}},"msPerHash":{{elapsed * 1000 * threads / Math.Max(1, total):F1}}}"""));

/// <summary>crypto_pwhash_str_alg as the service calls it (src/Analytics.Api/Infrastructure/Security/Sodium.cs).</summary>
internal static partial class Sodium
{
    private const string Library = "sodium";

    public static void Init()
    {
        NativeLibrary.SetDllImportResolver(typeof(Sodium).Assembly, Resolve);
        if (sodium_init() < 0)
        {
            throw new InvalidOperationException("libsodium failed to initialise.");
        }
    }

    public static string Hash(string password, int iterations, int memoryKib)
    {
        var utf8 = Encoding.UTF8.GetBytes(password);
        Span<byte> output = stackalloc byte[128];
        if (crypto_pwhash_str_alg(output, utf8, (ulong)utf8.Length, (ulong)iterations, (nuint)memoryKib * 1024, 2) != 0)
        {
            throw new InvalidOperationException("Argon2id hashing failed.");
        }

        return Encoding.ASCII.GetString(output[..output.IndexOf((byte)0)]);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        foreach (var candidate in new[] { "libsodium.so.23", "libsodium.so", "libsodium.dylib", "libsodium" })
        {
            if (name == Library && NativeLibrary.TryLoad(candidate, assembly, path, out var handle))
            {
                return handle;
            }
        }

        return IntPtr.Zero;
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_pwhash_str_alg(Span<byte> output, ReadOnlySpan<byte> password, ulong passwordLength, ulong opsLimit, nuint memLimit, int alg);
}
