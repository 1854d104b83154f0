namespace Analytics.Api.Infrastructure.Auth.ApiKeys;

/// <summary>
/// Endpoint metadata: this endpoint accepts an API key as well as a bearer JWT. Authentication looks for a key on
/// these endpoints only (<see cref="ApiKeyAuthenticationHandler.SelectScheme"/>), and the OpenAPI document lists
/// both schemes for them. Everywhere else a key is not a credential: the request is anonymous (401).
/// Put it on an endpoint with <see cref="ApiKeyAccepted.RequireUserOrApiKey{TBuilder}"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class ApiKeyAcceptedAttribute : Attribute
{
    public static bool AllowedFor(HttpContext http) => http.GetEndpoint()?.Metadata.GetMetadata<ApiKeyAcceptedAttribute>() is not null;
}

public static class ApiKeyAccepted
{
    /// <summary>Requires a signed-in user (bearer JWT) or a client app (API key).</summary>
    public static TBuilder RequireUserOrApiKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ApiKeyAcceptedAttribute()).RequireAuthorization();
}
