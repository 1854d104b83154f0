using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Security;

public interface IPasswordHasher
{
    Task<string> HashAsync(string password, CancellationToken ct);

    /// <summary>Checks <paramref name="password"/>; <c>NeedsRehash</c> says the hash was made with other parameters.</summary>
    Task<PasswordCheck> VerifyAsync(string hash, string password, CancellationToken ct);

    /// <summary>Spends the time of one verification, so that "no such user" costs what "wrong password" does.</summary>
    Task SpendOneVerificationAsync(string password, CancellationToken ct);
}

public readonly record struct PasswordCheck(bool Matches, bool NeedsRehash);

/// <summary>
/// Argon2id as standard PHC strings (<c>$argon2id$v=19$m=...,t=...,p=1$salt$hash</c>, what libsodium writes and
/// reads). Hashes are computed by <see cref="Argon2id"/> in block areas that are kept between hashes
/// (<see cref="HashMemory"/>); strings it does not take (other variants, versions or lane counts, a memory cost above
/// the configured one) and CPUs without AVX2 go to libsodium. Concurrent hashes are bounded: each one holds its full
/// memory cost for its whole duration.
/// </summary>
internal sealed class Argon2idPasswordHasher : IPasswordHasher, IDisposable
{
    private const int SaltBytes = 16;
    private const int TagBytes = 32;

    private readonly PasswordHashingOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly HashMemory? _memory;
    private readonly Lazy<string> _dummyHash;

    public Argon2idPasswordHasher(IOptions<PasswordHashingOptions> options)
    {
        Sodium.EnsureLoaded();
        _options = options.Value;
        var slots = _options.MaxConcurrentHashes > 0 ? _options.MaxConcurrentHashes : Environment.ProcessorCount;
        _slots = new SemaphoreSlim(slots, slots);
        _memory = Argon2id.IsSupported ? new HashMemory(Argon2id.Blocks((uint)_options.MemoryKib, 1)) : null;
        // A failure (out of memory) is not cached: the next unknown e-mail tries again.
        _dummyHash = new Lazy<string>(() => Hash("not a real password: spent for timing only"), LazyThreadSafetyMode.PublicationOnly);
    }

    private uint Iterations => (uint)_options.Iterations;

    private uint MemoryKib => (uint)_options.MemoryKib;

    public Task<string> HashAsync(string password, CancellationToken ct) => RunAsync(() => Hash(password), ct);

    public Task<PasswordCheck> VerifyAsync(string hash, string password, CancellationToken ct) => RunAsync(() => Verify(hash, password), ct);

    public Task SpendOneVerificationAsync(string password, CancellationToken ct) => RunAsync(() => Verify(_dummyHash.Value, password), ct);

    private async Task<T> RunAsync<T>(Func<T> work, CancellationToken ct)
    {
        await _slots.WaitAsync(ct);
        try
        {
            return await Task.Run(work, ct);
        }
        finally
        {
            _slots.Release();
        }
    }

    private string Hash(string password) => WithUtf8(password, utf8 =>
    {
        if (_memory is null)
        {
            return Sodium.Hash(utf8, Iterations, MemoryKib);
        }

        var phc = new Argon2idString(MemoryKib, Iterations, RandomNumberGenerator.GetBytes(SaltBytes), new byte[TagBytes]);
        Compute(utf8, phc, phc.Tag);
        return phc.ToString();
    });

    private PasswordCheck Verify(string hash, string password) => WithUtf8(password, utf8 =>
    {
        if (_memory is null || !Argon2idString.TryParse(hash, out var phc) || phc.MemoryKib > MemoryKib)
        {
            return Sodium.Verify(hash, utf8, Iterations, MemoryKib);
        }

        var tag = new byte[phc.Tag.Length];
        Compute(utf8, phc, tag);
        var matches = CryptographicOperations.FixedTimeEquals(tag, phc.Tag);
        CryptographicOperations.ZeroMemory(tag);
        return new PasswordCheck(matches, matches && (phc.MemoryKib != MemoryKib || phc.Iterations != Iterations));
    });

    /// <summary>The password's UTF-8 bytes for <paramref name="work"/>, wiped after it.</summary>
    private static T WithUtf8<T>(string password, Func<byte[], T> work)
    {
        var utf8 = Encoding.UTF8.GetBytes(password);
        try
        {
            return work(utf8);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(utf8);
        }
    }

    private void Compute(byte[] password, Argon2idString phc, Span<byte> tag)
    {
        var area = _memory!.Rent();
        try
        {
            Argon2id.Hash(password, phc.Salt, [], [], phc.Iterations, phc.MemoryKib, 1, tag, area);
        }
        finally
        {
            _memory.Return(area);
        }
    }

    public void Dispose()
    {
        _slots.Dispose();
        _memory?.Dispose();
    }
}

/// <summary>
/// The PHC string of an Argon2id v1.3 hash with one lane, as libsodium writes it. <see cref="TryParse"/> takes only
/// the canonical form (the string must be what <see cref="ToString"/> gives back), so that anything else is left
/// to libsodium's own parser.
/// </summary>
internal sealed record Argon2idString(uint MemoryKib, uint Iterations, byte[] Salt, byte[] Tag)
{
    private const string Prefix = "$argon2id$v=19$m=";

    public static bool TryParse(string value, [NotNullWhen(true)] out Argon2idString? parsed)
    {
        parsed = null;
        // libsodium refuses strings of 128 characters or more (crypto_pwhash_STRBYTES): so does this parser, and
        // they go to libsodium's refusal.
        if (value.Length >= Sodium.StrBytes || !value.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = value[Prefix.Length..].Split('$');
        if (parts.Length != 3 || parts[0].Split(',') is not [var m, ['t', '=', .. var t], "p=1"]
            || !uint.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out var memoryKib)
            || !uint.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var iterations)
            || memoryKib < 8 || iterations < 1
            || FromBase64(parts[1]) is not { Length: >= 8 } salt
            || FromBase64(parts[2]) is not { Length: >= 16 and <= 128 } tag)
        {
            return false;
        }

        var candidate = new Argon2idString(memoryKib, iterations, salt, tag);
        parsed = candidate.ToString() == value ? candidate : null;
        return parsed is not null;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}{MemoryKib},t={Iterations},p=1${ToBase64(Salt)}${ToBase64(Tag)}");

    private static string ToBase64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static byte[]? FromBase64(string unpadded)
    {
        var padded = unpadded.PadRight(unpadded.Length + ((4 - (unpadded.Length % 4)) % 4), '=');
        var bytes = new byte[padded.Length / 4 * 3];
        return Convert.TryFromBase64String(padded, bytes, out var written) ? bytes[..written] : null;
    }
}
