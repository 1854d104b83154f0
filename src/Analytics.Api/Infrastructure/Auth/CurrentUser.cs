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
