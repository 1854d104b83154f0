using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Auth.ApiKeys;

/// <summary>
/// Authenticates <c>X-Api-Key: ak_...</c> or <c>Authorization: Bearer ak_...</c> (on the live streams also
/// <c>?api_key=ak_...</c> or <c>?access_token=ak_...</c>) as the app that owns the key.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyDirectory directory) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    /// <summary>Chooses between the API-key and the JWT scheme by what the request carries.</summary>
    public const string JwtOrApiKey = "JwtOrApiKey";

    public const string KeyIdClaim = "api_key_id";
    public const string OwnerClaim = "api_key_owner";
    private const string Header = "X-Api-Key";

    public static string? KeyFrom(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Headers.TryGetValue(Header, out var header) && header.ToString() is { Length: > 0 } value)
        {
            return value;
        }

        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer " + ApiKeyFormat.Prefix, StringComparison.Ordinal))
        {
            return authorization["Bearer ".Length..];
        }

        if (authorization.Length > 0)
        {
            return null;
        }

        // SignalR clients send what their access-token factory returns as access_token: an API key may come that way.
        return CredentialsInQueryAttribute.From(request, CredentialsInQueryAttribute.ApiKey)
            ?? (CredentialsInQueryAttribute.From(request, CredentialsInQueryAttribute.AccessToken) is { } token && token.StartsWith(ApiKeyFormat.Prefix, StringComparison.Ordinal) ? token : null);
    }

    /// <summary>
    /// The default scheme's choice for every request: the API-key scheme on an endpoint that accepts keys
    /// (<see cref="ApiKeyAcceptedAttribute"/>) when the request carries one, the JWT scheme otherwise. The
    /// authentication middleware thus authenticates each request once, and the endpoints' policies need not name
    /// a scheme and authenticate again.
    /// </summary>
    public static string SelectScheme(HttpContext context) =>
        ApiKeyAcceptedAttribute.AllowedFor(context) && KeyFrom(context.Request) is not null ? SchemeName : JwtBearerDefaults.AuthenticationScheme;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = KeyFrom(Request);
        if (key is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (!ApiKeyFormat.TryParse(key, out var publicId))
        {
            return AuthenticateResult.Fail("The API key is malformed (expected ak_<id>_<secret>).");
        }

        var record = await directory.FindAsync(publicId, Context.RequestAborted);
        if (record is null || !ApiKeyFormat.SecretMatches(key, record.SecretHash))
        {
            return AuthenticateResult.Fail("The API key is not valid.");
        }

        if (record.Revoked)
        {
            return AuthenticateResult.Fail("The API key has been revoked, or its owner's account is disabled.");
        }

        await directory.TouchAsync(record.Id, Context.RequestAborted);
        var identity = new ClaimsIdentity([new Claim(KeyIdClaim, record.Id.ToString()), new Claim(OwnerClaim, record.OwnerId.ToString())], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        await Context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = 401, Title = "Authentication required.", Detail = failure?.Message ?? "Send an API key (X-Api-Key) or a bearer token." },
        });
    }
}
