using System.Security.Claims;
using System.Text;
using Analytics.Api.Infrastructure.Auth;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Analytics.Api.Tests.Infrastructure.Auth;

/// <summary>The remembered validations never outlive the token, never serve another text, never share an identity.</summary>
public sealed class ValidatedTokensTests
{
    private static readonly SymmetricSecurityKey Key = new(Encoding.UTF8.GetBytes(ApiFactory.SigningKey));

    private static readonly TokenValidationParameters Parameters = new()
    {
        ValidIssuer = "analytics",
        ValidAudience = "analytics",
        IssuerSigningKey = Key,
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        ClockSkew = TimeSpan.Zero,
        RoleClaimType = "role",
    };

    private static string Issue(DateTime expires) =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "analytics",
            Audience = "analytics",
            NotBefore = DateTime.UtcNow.AddMinutes(-1),
            Expires = expires,
            Subject = new ClaimsIdentity([new Claim("sub", Guid.NewGuid().ToString()), new Claim("role", "user")]),
            SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.HmacSha256),
        });

    [Fact]
    public async Task A_token_accepted_before_is_refused_once_it_has_expired()
    {
        using var tokens = new ValidatedTokens(TimeProvider.System);
        var token = Issue(DateTime.UtcNow.AddSeconds(2));
        (await tokens.ValidateTokenAsync(token, Parameters)).IsValid.ShouldBeTrue();

        await Task.Delay(TimeSpan.FromSeconds(2.5));

        var again = await tokens.ValidateTokenAsync(token, Parameters);
        again.IsValid.ShouldBeFalse();
        again.Exception.ShouldBeOfType<SecurityTokenExpiredException>();
    }

    [Fact]
    public async Task A_changed_signature_is_validated_in_full_and_refused()
    {
        using var tokens = new ValidatedTokens(TimeProvider.System);
        var token = Issue(DateTime.UtcNow.AddMinutes(5));
        (await tokens.ValidateTokenAsync(token, Parameters)).IsValid.ShouldBeTrue();
        var tampered = token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1];

        (await tokens.ValidateTokenAsync(tampered, Parameters)).IsValid.ShouldBeFalse();
    }

    [Fact]
    public async Task Each_caller_gets_its_own_identity_with_the_token_claims()
    {
        using var tokens = new ValidatedTokens(TimeProvider.System);
        var token = Issue(DateTime.UtcNow.AddMinutes(5));
        var first = await tokens.ValidateTokenAsync(token, Parameters);
        first.ClaimsIdentity.AddClaim(new Claim("role", "admin"));

        var second = await tokens.ValidateTokenAsync(token, Parameters);

        second.IsValid.ShouldBeTrue();
        second.SecurityToken.ShouldNotBeNull();
        second.ClaimsIdentity.ShouldNotBeSameAs(first.ClaimsIdentity);
        second.ClaimsIdentity.FindAll("role").Select(c => c.Value).ShouldBe(["user"]);
    }
}
