using System.Net;
using System.Text;
using Analytics.Api.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace Analytics.Api.Tests.Features.Identity.Login;

/// <summary>Forged, expired and tampered access tokens are refused with 401.</summary>
public sealed class AccessTokenTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    private static string Forge(SignedIn user, string key = ApiFactory.SigningKey, string issuer = "analytics", string audience = "analytics", string role = "user", DateTime? expires = null) =>
        Accounts.ForgeAccessToken(user, key, issuer, audience, role, expires);

    private static async Task<HttpResponseMessage> MeAsync(HttpClient client, string token) =>
        await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", token));

    [Fact]
    public async Task A_token_signed_like_ours_is_accepted()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        (await MeAsync(client, Forge(user))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Tokens_with_alg_none_wrong_key_issuer_audience_or_expired_are_401()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var valid = Forge(user);
        var parts = valid.Split('.');
        var none = $"{Base64Url("""{"alg":"none","typ":"JWT"}""")}.{parts[1]}.";

        string[] forged =
        [
            none,
            Forge(user, key: "another-signing-key-0123456789-0123456789-012345"),
            Forge(user, issuer: "someone-else"),
            Forge(user, audience: "someone-else"),
            Forge(user, expires: DateTime.UtcNow.AddMinutes(-5)),
            "not.a.jwt",
        ];

        foreach (var token in forged)
        {
            var response = await MeAsync(client, token);
            await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
            response.Headers.WwwAuthenticate.ToString().ShouldStartWith("Bearer");
        }
    }

    [Fact]
    public async Task A_token_whose_role_claim_was_edited_is_401_even_right_after_the_original_was_accepted()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        (await MeAsync(client, user.AccessToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var parts = user.AccessToken.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("\"role\":\"user\"", "\"role\":\"admin\"", StringComparison.Ordinal);
        var tampered = $"{parts[0]}.{Base64Url(payload)}.{parts[2]}";

        await (await MeAsync(client, tampered)).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_validly_signed_token_claiming_another_role_than_the_account_has_is_401()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        await (await MeAsync(client, Forge(user, role: "admin"))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task No_token_is_401_with_a_problem_body()
    {
        var response = await _api.CreateClient().GetAsync(new Uri("/api/v1/auth/me", UriKind.Relative));

        (await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("detail").GetString()!.ShouldContain("Bearer");
    }

    private static string Base64Url(string text) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(text));
}
