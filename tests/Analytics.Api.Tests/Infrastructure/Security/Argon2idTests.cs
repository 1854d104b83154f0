using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using System.Text;
using Analytics.Api.Infrastructure.Security;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Tests.Infrastructure.Security;

/// <summary>
/// The managed Argon2id against the standard's test vectors and against libsodium, the library it stands in for:
/// the same inputs give the same tag, and each side's PHC strings verify on the other.
/// </summary>
public sealed class Argon2idTests
{
    public Argon2idTests() => Sodium.EnsureLoaded();

    [Theory]
    [InlineData("", "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce")]
    [InlineData("abc", "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")]
    public void Blake2b_matches_the_RFC_7693_vectors(string input, string expected)
    {
        var output = new byte[64];
        Blake2b.Hash(Encoding.ASCII.GetBytes(input), output);
        Convert.ToHexStringLower(output).ShouldBe(expected);
    }

    [Fact]
    public void Blake2b_over_several_blocks_fed_in_pieces_is_the_hash_of_the_whole()
    {
        var input = RandomNumberGenerator.GetBytes(1000);
        var whole = new byte[48];
        Blake2b.Hash(input, whole);

        var pieces = new Blake2b(48);
        foreach (var chunk in input.Chunk(128 + 37))
        {
            pieces.Update(chunk);
        }

        var output = new byte[48];
        pieces.Final(output);
        output.ShouldBe(whole);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Argon2id_matches_the_RFC_9106_test_vector(bool wide)
    {
        Assert.SkipUnless(Argon2id.IsSupported && (!wide || Avx512F.IsSupported), "the block function needs AVX2 (wide: AVX-512)");
        var tag = new byte[32];
        using var memory = new HashMemory(Argon2id.Blocks(32, 4));
        var area = memory.Rent();

        Argon2id.Hash(Filled(32, 0x01), Filled(16, 0x02), Filled(8, 0x03), Filled(12, 0x04), iterations: 3, memoryKib: 32, lanes: 4, tag, area, wide);

        memory.Return(area);
        Convert.ToHexStringLower(tag).ShouldBe("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
    }

    [Theory]
    [InlineData(8u, 1u)]
    [InlineData(11u, 3u)]
    [InlineData(100u, 2u)]
    [InlineData(1029u, 1u)]
    [InlineData(19456u, 2u)]
    public async Task Hashes_made_here_verify_in_libsodium_and_libsodiums_verify_here(uint memoryKib, uint iterations)
    {
        Assert.SkipUnless(Argon2id.IsSupported, "the block function needs AVX2");
        using var hasher = Hasher(memoryKib, iterations);
        foreach (var password in new[] { "", "correct horse battery staple", "mot de passe à accents 🔑", new string('x', 1024) })
        {
            var utf8 = Encoding.UTF8.GetBytes(password);
            var ours = await hasher.HashAsync(password, CancellationToken.None);
            ours.ShouldStartWith($"$argon2id$v=19$m={memoryKib},t={iterations},p=1$");
            Sodium.Verify(ours, utf8, iterations, memoryKib).ShouldBe(new PasswordCheck(true, false));
            Sodium.Verify(ours, Encoding.UTF8.GetBytes(password + "!"), iterations, memoryKib).Matches.ShouldBeFalse();

            var theirs = Sodium.Hash(utf8, iterations, memoryKib);
            Argon2idString.TryParse(theirs, out _).ShouldBeTrue();
            (await hasher.VerifyAsync(theirs, password, CancellationToken.None)).ShouldBe(new PasswordCheck(true, false));
            (await hasher.VerifyAsync(theirs, password + "!", CancellationToken.None)).Matches.ShouldBeFalse();
        }
    }

    [Theory]
    [InlineData(false, 64u)]
    [InlineData(true, 64u)]
    [InlineData(false, 19456u)]
    [InlineData(true, 19456u)]
    public void Salt_and_tag_are_the_ones_libsodium_computes_for_the_same_salt(bool wide, uint memoryKib)
    {
        Assert.SkipUnless(Argon2id.IsSupported && (!wide || Avx512F.IsSupported), "the block function needs AVX2 (wide: AVX-512)");
        var password = Encoding.UTF8.GetBytes("same salt, same tag");
        var theirs = Sodium.Hash(password, 2, memoryKib);
        Argon2idString.TryParse(theirs, out var parsed).ShouldBeTrue();

        var tag = new byte[parsed!.Tag.Length];
        using var memory = new HashMemory(Argon2id.Blocks(memoryKib, 1));
        var area = memory.Rent();
        Argon2id.Hash(password, parsed.Salt, [], [], 2, memoryKib, 1, tag, area, wide);
        memory.Return(area);

        tag.ShouldBe(parsed.Tag);
        (parsed with { Tag = tag }).ToString().ShouldBe(theirs);
    }

    [Theory]
    [InlineData(false, 2u, 16u, 3u)]
    [InlineData(true, 2u, 16u, 3u)]
    [InlineData(false, 3u, 1000u, 2u)]
    [InlineData(true, 3u, 1000u, 2u)]
    [InlineData(true, 4u, 2051u, 1u)]
    public void Several_lanes_give_the_tag_libsodium_verifies(bool wide, uint lanes, uint memoryKib, uint iterations)
    {
        Assert.SkipUnless(Argon2id.IsSupported && (!wide || Avx512F.IsSupported), "the block function needs AVX2 (wide: AVX-512)");
        var password = Encoding.UTF8.GetBytes("lanes side by side");
        var salt = RandomNumberGenerator.GetBytes(16);
        var tag = new byte[32];
        using var memory = new HashMemory(Argon2id.Blocks(memoryKib, lanes));
        var area = memory.Rent();
        Argon2id.Hash(password, salt, [], [], iterations, memoryKib, lanes, tag, area, wide);
        memory.Return(area);

        var phc = $"$argon2id$v=19$m={memoryKib},t={iterations},p={lanes}${Convert.ToBase64String(salt).TrimEnd('=')}${Convert.ToBase64String(tag).TrimEnd('=')}";
        Sodium.Verify(phc, password, iterations, memoryKib).Matches.ShouldBeTrue();
        tag[0] ^= 1;
        var wrong = $"$argon2id$v=19$m={memoryKib},t={iterations},p={lanes}${Convert.ToBase64String(salt).TrimEnd('=')}${Convert.ToBase64String(tag).TrimEnd('=')}";
        Sodium.Verify(wrong, password, iterations, memoryKib).Matches.ShouldBeFalse();
    }

    [Theory]
    [InlineData(16)]
    [InlineData(48)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(72)]
    [InlineData(100)]
    [InlineData(128)]
    [InlineData(1000)]
    public void Tags_of_any_length_are_libsodiums_raw_output(int length)
    {
        Assert.SkipUnless(Argon2id.IsSupported, "the block function needs AVX2");
        var password = Encoding.UTF8.GetBytes("tag length");
        var salt = RandomNumberGenerator.GetBytes(16);
        var theirs = new byte[length];
        crypto_pwhash(theirs, (ulong)length, password, (ulong)password.Length, salt, 2, 64 * 1024, 2).ShouldBe(0);

        var ours = new byte[length];
        using var memory = new HashMemory(Argon2id.Blocks(64, 1));
        var area = memory.Rent();
        Argon2id.Hash(password, salt, [], [], 2, 64, 1, ours, area);
        memory.Return(area);

        ours.ShouldBe(theirs);
    }

    [Fact]
    public void Parameters_outside_Argon2s_limits_are_refused()
    {
        Assert.SkipUnless(Argon2id.IsSupported, "the block function needs AVX2");
        using var memory = new HashMemory(Argon2id.Blocks(64, 1));
        var area = memory.Rent();
        var tag = new byte[32];
        Should.Throw<ArgumentOutOfRangeException>(() => Argon2id.Hash("p"u8, "short"u8, [], [], 2, 64, 1, tag, area));
        Should.Throw<ArgumentOutOfRangeException>(() => Argon2id.Hash("p"u8, "salt salt"u8, [], [], 2, 15, 2, tag, area));
        Should.Throw<ArgumentOutOfRangeException>(() => Argon2id.Hash("p"u8, "salt salt"u8, [], [], 0, 64, 1, tag, area));
        Should.Throw<ArgumentException>(() => Argon2id.Hash("p"u8, "salt salt"u8, [], [], 1, 128, 1, tag, area));
        memory.Return(area);
    }

    [Fact]
    public async Task Other_parameters_verify_and_ask_for_a_rehash_and_a_larger_memory_cost_goes_to_libsodium()
    {
        using var hasher = Hasher(64, 2);
        var fewerPasses = Sodium.Hash(Encoding.UTF8.GetBytes("pass word 1"), 1, 64);
        var moreMemory = Sodium.Hash(Encoding.UTF8.GetBytes("pass word 1"), 2, 128);
        var same = Sodium.Hash(Encoding.UTF8.GetBytes("pass word 1"), 2, 64);

        (await hasher.VerifyAsync(fewerPasses, "pass word 1", CancellationToken.None)).ShouldBe(new PasswordCheck(true, true));
        (await hasher.VerifyAsync(moreMemory, "pass word 1", CancellationToken.None)).ShouldBe(new PasswordCheck(true, true));
        (await hasher.VerifyAsync(moreMemory, "pass word 2", CancellationToken.None)).ShouldBe(new PasswordCheck(false, false));
        (await hasher.VerifyAsync(same, "pass word 1", CancellationToken.None)).ShouldBe(new PasswordCheck(true, false));
    }

    [Theory]
    [InlineData("$argon2id$v=19$m=064,t=2,p=1$")]
    [InlineData("$argon2id$v=19$m=64,t=2,p=2$")]
    [InlineData("$argon2id$v=16$m=64,t=2,p=1$")]
    [InlineData("$argon2i$v=19$m=64,t=2,p=1$")]
    [InlineData("$argon2id$v=19$t=2,m=64,p=1$")]
    [InlineData("$argon2id$v=19$m=64,t=0,p=1$")]
    [InlineData("$argon2id$v=19$m=4,t=2,p=1$")]
    public void Only_the_canonical_form_is_parsed_here(string head)
    {
        var salt = Convert.ToBase64String(Filled(16, 7)).TrimEnd('=');
        var tag = Convert.ToBase64String(Filled(32, 9)).TrimEnd('=');
        Argon2idString.TryParse("$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + tag, out _).ShouldBeTrue();

        Argon2idString.TryParse(head + salt + "$" + tag, out _).ShouldBeFalse();
        Argon2idString.TryParse("$argon2id$v=19$m=64,t=2,p=1$" + salt + "==$" + tag, out _).ShouldBeFalse();
        Argon2idString.TryParse("$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + tag + "$", out _).ShouldBeFalse();
        Argon2idString.TryParse("$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + tag[..^1] + "B", out _).ShouldBeFalse();
        Argon2idString.TryParse("$argon2id$v=19$m=64,t=2,p=1$" + salt[..8] + "$" + tag, out _).ShouldBeFalse();
        var longTag = Convert.ToBase64String(Filled(72, 9)).TrimEnd('=');
        Argon2idString.TryParse("$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + longTag, out _).ShouldBeFalse("libsodium refuses strings of 128 characters or more");
    }

    [Fact]
    public void Areas_are_reused_and_freed_once_idle()
    {
        using var memory = new HashMemory(Argon2id.Blocks(64, 1));
        var first = memory.Rent();
        var second = memory.Rent();
        memory.Allocated.ShouldBe(2);
        memory.Return(first);
        memory.Rent().ShouldBeSameAs(first);
        memory.Return(first);
        memory.Return(second);

        memory.Trim(TimeSpan.FromMinutes(1));
        memory.Allocated.ShouldBe(2);
        memory.Trim(TimeSpan.Zero);
        memory.Allocated.ShouldBe(0);
        memory.Rent().ShouldNotBeSameAs(first);
        memory.Allocated.ShouldBe(1);
    }

    private static Argon2idPasswordHasher Hasher(uint memoryKib, uint iterations) =>
        new(Options.Create(new PasswordHashingOptions { MemoryKib = (int)memoryKib, Iterations = (int)iterations }));

    /// <summary>libsodium's raw Argon2 output (any tag length; the PHC string form has 32 bytes).</summary>
    [DllImport("libsodium.so.23")]
    private static extern int crypto_pwhash(byte[] output, ulong outputLength, byte[] password, ulong passwordLength, byte[] salt, ulong opsLimit, nuint memLimit, int alg);

    private static byte[] Filled(int length, byte value) => Enumerable.Repeat(value, length).ToArray();
}
