using System.Security.Claims;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Analytics.Api.Infrastructure.Auth;

/// <summary>
/// The bearer scheme's token handler: <see cref="JsonWebTokenHandler"/>, remembering the tokens it accepted until
/// they expire, so a client that sends the same access token on every request pays for parsing and the HMAC once.
/// Only accepted tokens are kept, keyed by their exact text (a changed byte is another key and is validated in
/// full); an entry is served only while the token's own lifetime (with the configured clock skew) allows. The
/// session check still runs on every request (<see cref="SessionGate"/>), so sign-out and revocation are unaffected.
/// </summary>
public sealed class ValidatedTokens(TimeProvider clock) : TokenHandler, IDisposable
{
    // Signed-in clients remembered per node; when full, new tokens are validated in full until expired ones leave.
    private const int Capacity = 10_000;

    private readonly JsonWebTokenHandler _inner = new() { MapInboundClaims = false };
    private readonly MemoryCache _accepted = new(new MemoryCacheOptions { SizeLimit = Capacity });

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        ArgumentNullException.ThrowIfNull(validationParameters);
        var now = clock.GetUtcNow();
        if (_accepted.TryGetValue(token, out Accepted? hit) && hit is not null && now < hit.Until)
        {
            // A copy per request: nothing downstream may change the cached identity for the next caller.
            return new TokenValidationResult { IsValid = true, ClaimsIdentity = hit.Identity.Clone(), SecurityToken = hit.Token };
        }

        var result = await _inner.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is { } validated && result.ClaimsIdentity is { } identity)
        {
            var until = new DateTimeOffset(validated.ValidTo, TimeSpan.Zero) + validationParameters.ClockSkew;
            if (until > now)
            {
                _accepted.Set(token, new Accepted(identity.Clone(), validated, until), new MemoryCacheEntryOptions { AbsoluteExpiration = until, Size = 1 });
            }
        }

        return result;
    }

    public override SecurityToken ReadToken(string token) => _inner.ReadToken(token);

    public void Dispose() => _accepted.Dispose();

    private sealed record Accepted(ClaimsIdentity Identity, SecurityToken Token, DateTimeOffset Until);
}
