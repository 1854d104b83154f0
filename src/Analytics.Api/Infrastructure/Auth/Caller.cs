using System.Security.Claims;
using Analytics.Api.Infrastructure.Auth.ApiKeys;

namespace Analytics.Api.Infrastructure.Auth;

/// <summary>
/// Who sends or reads events: a signed-in user (events belong to them) or a client app's API key (events belong
/// to the key; its owner is the user who created it).
/// </summary>
public sealed record Caller(Guid? UserId, Guid? ApiKeyId, Guid OwnerId, bool IsAdmin)
{
    public static Caller From(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        if (Guid.TryParse(principal.FindFirstValue(ApiKeyAuthenticationHandler.KeyIdClaim), out var keyId)
            && Guid.TryParse(principal.FindFirstValue(ApiKeyAuthenticationHandler.OwnerClaim), out var owner))
        {
            return new Caller(null, keyId, owner, false);
        }

        var user = CurrentUser.From(principal) ?? throw new InvalidOperationException("An authenticated principal without user or key claims.");
        return new Caller(user.Id, null, user.Id, user.IsAdmin);
    }
}
