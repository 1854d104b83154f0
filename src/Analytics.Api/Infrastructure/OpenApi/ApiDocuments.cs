using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
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

            // Every slice names its types Command, Response, Page...: a nested type is named after its slice too
            // (LoginCommand, DashboardResponse). By the short name alone, .NET 10 gives every type of one name the same
            // schema, so most operations pointed at another slice's body.
            options.CreateSchemaReferenceId = type =>
                OpenApiOptions.CreateDefaultSchemaReferenceId(type) is { } id && type.Type.IsNested ? type.Type.DeclaringType!.Name + id : OpenApiOptions.CreateDefaultSchemaReferenceId(type);

            // The generator lists every constructor parameter of a record as required, so a client would have to send
            // every optional field: a nullable one is optional unless marked [Required] (an event's type, a batch's events).
            options.AddSchemaTransformer((schema, context, _) =>
            {
                if (schema.Required is { Count: > 0 } required && context.JsonTypeInfo.Kind == System.Text.Json.Serialization.Metadata.JsonTypeInfoKind.Object)
                {
                    foreach (var property in context.JsonTypeInfo.Properties)
                    {
                        var marked = property.AttributeProvider?.IsDefined(typeof(System.ComponentModel.DataAnnotations.RequiredAttribute), true) == true;
                        if (!marked && (property.IsSetNullable || Nullable.GetUnderlyingType(property.PropertyType) is not null))
                        {
                            required.Remove(property.Name);
                        }
                    }
                }

                return Task.CompletedTask;
            });
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

            // An endpoint that requires authorization says so, and that it can answer 401; the live streams also take
            // their credential from the query string (browsers' EventSource cannot send headers).
            options.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any())
                {
                    var schemes = metadata.OfType<ApiKeyAcceptedAttribute>().Any() ? [BearerScheme, ApiKeyScheme] : new[] { BearerScheme };
                    operation.Security = [.. schemes.Select(s => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(s, context.Document)] = [] })];
                }

                if (metadata.OfType<CredentialsInQueryAttribute>().Any())
                {
                    operation.Parameters ??= [];
                    foreach (var (name, description) in (ReadOnlySpan<(string, string)>)[
                        (CredentialsInQueryAttribute.AccessToken, "An access token, for clients that cannot send the Authorization header (EventSource)."),
                        (CredentialsInQueryAttribute.ApiKey, "An API key, for clients that cannot send the X-Api-Key header (EventSource).")])
                    {
                        operation.Parameters.Add(new OpenApiParameter { Name = name, In = ParameterLocation.Query, Required = false, Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } });
                    }
                }

                return Task.CompletedTask;
            });

            // A 400 with a JSON body of the endpoint's own (a batch whose every event was rejected) besides the
            // ProblemDetails of a bad request: .NET 10 keeps one declaration per status code, so the other is added back.
            options.AddOperationTransformer(async (operation, context, ct) =>
            {
                var own = context.Description.ActionDescriptor.EndpointMetadata.OfType<Microsoft.AspNetCore.Http.Metadata.IProducesResponseTypeMetadata>()
                    .FirstOrDefault(m => m.StatusCode == 400 && m.Type is { } type && type != typeof(void) && !typeof(Microsoft.AspNetCore.Mvc.ProblemDetails).IsAssignableFrom(type))?.Type;
                if (own is not null && operation.Responses?.GetValueOrDefault("400") is OpenApiResponse bad && bad.Content?.ContainsKey("application/json") != true)
                {
                    bad.Content ??= new Dictionary<string, OpenApiMediaType>();
                    bad.Content["application/json"] = new OpenApiMediaType { Schema = await context.GetOrCreateSchemaAsync(own, null, ct) };
                }
            });

            // Every API operation can answer 503 when PostgreSQL does not answer (ADR 16), and every one with a JSON body
            // 413 (too large) and 415 (not JSON): ProblemDetails, as its other errors (the schema of one of them, so that
            // the document names ProblemDetails once). Every 423, 429 and 503 of ours says when to retry; a 201 where.
            options.AddOperationTransformer((operation, context, _) =>
            {
                if (context.Description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) != true || operation.Responses is not { } responses)
                {
                    return Task.CompletedTask;
                }

                if (responses.Where(r => r.Key != "400").FirstOrDefault(r => r.Value.Content?.ContainsKey(ProblemJson) == true).Value?.Content is { } content)
                {
                    void Add(string status, string description) => responses.TryAdd(status, new OpenApiResponse { Description = description, Content = content.Where(c => c.Key == ProblemJson).ToDictionary() });
                    Add("503", "The database could not complete the request right now; retry after Retry-After.");
                    if (operation.RequestBody is not null)
                    {
                        Add("413", "The request body is larger than the limit (Api__MaxRequestBodyBytes).");
                        Add("415", "The body is not JSON: send it with 'Content-Type: application/json'.");
                    }
                }

                foreach (var status in (string[])["423", "429", "503"])
                {
                    if (responses.GetValueOrDefault(status) is OpenApiResponse retryable)
                    {
                        retryable.Headers ??= new Dictionary<string, IOpenApiHeader>();
                        retryable.Headers["Retry-After"] = new OpenApiHeader { Description = "Seconds to wait before retrying.", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer } };
                    }
                }

                if (responses.GetValueOrDefault("201") is OpenApiResponse created)
                {
                    created.Headers ??= new Dictionary<string, IOpenApiHeader>();
                    created.Headers["Location"] = new OpenApiHeader { Description = "Where the created resource is read.", Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
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
