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
/// Argon2id through libsodium, as standard PHC strings (<c>$argon2id$v=19$m=...,t=...,p=1$...</c>).
/// Concurrent hashes are bounded: each one holds its full memory cost for its whole duration.
/// </summary>
internal sealed class Argon2idPasswordHasher : IPasswordHasher, IDisposable
{
    private readonly PasswordHashingOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly Lazy<string> _dummyHash;

    public Argon2idPasswordHasher(IOptions<PasswordHashingOptions> options)
    {
        Sodium.EnsureLoaded();
        _options = options.Value;
        var slots = _options.MaxConcurrentHashes > 0 ? _options.MaxConcurrentHashes : Environment.ProcessorCount;
        _slots = new SemaphoreSlim(slots, slots);
        _dummyHash = new Lazy<string>(() => Hash("not a real password: spent for timing only"));
    }

    private ulong OpsLimit => (ulong)_options.Iterations;

    private nuint MemLimit => (nuint)_options.MemoryKib * 1024;

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

    private string Hash(string password)
    {
        var utf8 = Encoding.UTF8.GetBytes(password);
        Span<byte> output = stackalloc byte[Sodium.StrBytes];
        if (Sodium.crypto_pwhash_str_alg(output, utf8, (ulong)utf8.Length, OpsLimit, MemLimit, Sodium.AlgArgon2Id13) != 0)
        {
            throw new InvalidOperationException("Argon2id hashing failed (out of memory?).");
        }

        return Encoding.ASCII.GetString(output[..output.IndexOf((byte)0)]);
    }

    private PasswordCheck Verify(string hash, string password)
    {
        var utf8 = Encoding.UTF8.GetBytes(password);
        var hashZ = NullTerminated(hash);
        var matches = Sodium.crypto_pwhash_str_verify(hashZ, utf8, (ulong)utf8.Length) == 0;
        var needsRehash = matches && Sodium.crypto_pwhash_str_needs_rehash(hashZ, OpsLimit, MemLimit) != 0;
        return new PasswordCheck(matches, needsRehash);
    }

    private static byte[] NullTerminated(string value)
    {
        var bytes = new byte[Encoding.ASCII.GetByteCount(value) + 1];
        Encoding.ASCII.GetBytes(value, bytes);
        return bytes;
    }

    public void Dispose() => _slots.Dispose();
}
