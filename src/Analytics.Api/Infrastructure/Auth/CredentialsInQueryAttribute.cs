namespace Analytics.Api.Infrastructure.Auth;

/// <summary>
/// Endpoint metadata: this endpoint also takes its credentials from the query string (<c>access_token</c> for a JWT,
/// <c>api_key</c> for an API key), because browsers' EventSource and WebSocket cannot send headers. Only the live
/// streams opt in: a query string ends up in access logs, so nothing else accepts credentials there.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class CredentialsInQueryAttribute : Attribute
{
    public const string AccessToken = "access_token";
    public const string ApiKey = "api_key";

    public static bool AllowedFor(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        return http.GetEndpoint()?.Metadata.GetMetadata<CredentialsInQueryAttribute>() is not null;
    }

    /// <summary>The credential named <paramref name="parameter"/> in the query string, when this endpoint takes it there.</summary>
    public static string? From(HttpRequest request, string parameter)
    {
        ArgumentNullException.ThrowIfNull(request);
        return AllowedFor(request.HttpContext) && request.Query[parameter] is [{ Length: > 0 } value] ? value : null;
    }
}
