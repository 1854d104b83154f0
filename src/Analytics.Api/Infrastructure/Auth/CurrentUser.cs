using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Analytics.Api.Infrastructure.Auth;

/// <summary>Who the validated access token says is calling.</summary>
public sealed record CurrentUser(Guid Id, string Role, Guid SessionId)
{
    public bool IsAdmin => Role == Roles.Admin;

    public static CurrentUser? From(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return Guid.TryParse(principal.FindFirstValue(JwtRegisteredClaimNames.Sub), out var id)
            && Guid.TryParse(principal.FindFirstValue(AccessTokens.SessionClaim), out var session)
            && principal.FindFirstValue(AccessTokens.RoleClaim) is { } role
                ? new CurrentUser(id, role, session)
                : null;
    }

    /// <summary>The access token's expiry (its <c>exp</c> claim), or null when the principal has none (an API key).</summary>
    public static DateTimeOffset? ExpiresAt(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return long.TryParse(principal.FindFirstValue(JwtRegisteredClaimNames.Exp), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            && seconds <= DateTimeOffset.MaxValue.ToUnixTimeSeconds()
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : null;
    }
}

public static class Roles
{
    public const string User = "user";
    public const string Admin = "admin";
}

public static class Policies
{
    public const string Admin = "admin";
}
