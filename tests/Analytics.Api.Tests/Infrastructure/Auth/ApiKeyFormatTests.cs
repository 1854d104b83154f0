using Analytics.Api.Infrastructure.Auth.ApiKeys;

namespace Analytics.Api.Tests.Infrastructure.Auth;

/// <summary>A key parses to its public id only in its exact shape, and only its own secret matches its stored hash.</summary>
public sealed class ApiKeyFormatTests
{
    [Fact]
    public void A_new_key_parses_to_its_public_id_and_matches_its_hash()
    {
        var (key, publicId, hash) = ApiKeyFormat.New();

        ApiKeyFormat.TryParse(key, out var parsed).ShouldBeTrue();
        parsed.ShouldBe(publicId);
        ApiKeyFormat.SecretMatches(key, hash).ShouldBeTrue();
    }

    [Fact]
    public void Another_secret_with_the_same_public_id_does_not_match()
    {
        var (key, _, hash) = ApiKeyFormat.New();
        var last = key[^1] == 'a' ? 'b' : 'a';
        var changed = key[..^1] + last;

        ApiKeyFormat.TryParse(changed, out _).ShouldBeTrue();
        ApiKeyFormat.SecretMatches(changed, hash).ShouldBeFalse();
        ApiKeyFormat.SecretMatches(key, ApiKeyFormat.New().SecretHash).ShouldBeFalse();
        ApiKeyFormat.SecretMatches(key + "A", hash).ShouldBeFalse();
        ApiKeyFormat.SecretMatches(key[..^1], hash).ShouldBeFalse();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("ak_nope")]
    [InlineData("xk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("ak_AAAAAAAAAAAAXAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("ak_AAAAAAAAAAA-_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("ak_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("ak_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void Anything_else_is_not_a_key(string? text) => ApiKeyFormat.TryParse(text, out _).ShouldBeFalse();

    [Fact]
    public void The_shape_the_cases_above_break_is_a_key() =>
        ApiKeyFormat.TryParse("ak_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", out _).ShouldBeTrue();
}
