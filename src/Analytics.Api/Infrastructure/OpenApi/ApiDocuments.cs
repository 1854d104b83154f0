using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;

namespace Analytics.Api.Infrastructure.OpenApi;

/// <summary>The OpenAPI 3.1 document at <c>/openapi/v1.json</c> and the Scalar reference page at <c>/scalar</c>.</summary>
public static class ApiDocuments
{
    public const string BearerScheme = "Bearer";
    public const string ApiKeyScheme = "ApiKey";

    private const string ProblemJson = "application/problem+json";

    public static IServiceCollection AddApiDocuments(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Analytics API",
                    Version = "v1",
                    Description = "User management and product analytics: identity, sessions, event tracking, dashboards, reports and alerts. Every error is an RFC 9457 ProblemDetails.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "JWT",
                    Description = "An access token from POST /api/v1/auth/login.",
                };
                document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = "X-Api-Key",
                    Description = "An app's API key (ak_...) for event ingestion; 'Authorization: Bearer ak_...' works too.",
                };
                return Task.CompletedTask;
            });

            // An endpoint that requires authorization says so, and that it can answer 401.
            options.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any())
                {
                    var schemes = metadata.OfType<ApiKeyAcceptedAttribute>().Any() ? [BearerScheme, ApiKeyScheme] : new[] { BearerScheme };
                    operation.Security = [.. schemes.Select(s => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(s, context.Document)] = [] })];
                }

                return Task.CompletedTask;
            });

            // Every API operation can answer 503 when PostgreSQL does not answer (ADR 16): a ProblemDetails, as its
            // other errors (the schema of one of them, so that the document names ProblemDetails once), and every 503
            // of ours says when to retry.
            options.AddOperationTransformer((operation, context, _) =>
            {
                if (context.Description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) != true || operation.Responses is not { } responses)
                {
                    return Task.CompletedTask;
                }

                if (!responses.ContainsKey("503")
                    && responses.Where(r => r.Key != "400").FirstOrDefault(r => r.Value.Content?.ContainsKey(ProblemJson) == true).Value?.Content is { } content)
                {
                    responses["503"] = new OpenApiResponse
                    {
                        Description = "The database could not complete the request right now; retry after Retry-After.",
                        Content = content.Where(c => c.Key == ProblemJson).ToDictionary(),
                    };
                }

                if (responses.GetValueOrDefault("503") is OpenApiResponse unavailable)
                {
                    unavailable.Headers ??= new Dictionary<string, IOpenApiHeader>();
                    unavailable.Headers["Retry-After"] = new OpenApiHeader { Description = "Seconds to wait before retrying.", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer } };
                }

                return Task.CompletedTask;
            });
        });

    public static WebApplication MapApiDocuments(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapGet("/scalar", ScalarPage.Render).AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}
