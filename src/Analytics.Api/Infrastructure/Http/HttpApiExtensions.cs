using System.Text.Json;
using System.Text.Json.Serialization;
using Analytics.Api.Infrastructure.Errors;
using Analytics.Api.Infrastructure.OpenApi;
using Microsoft.AspNetCore.Http.Json;

namespace Analytics.Api.Infrastructure.Http;

public static class HttpApiExtensions
{
    /// <summary>JSON conventions, ProblemDetails for every error, body limits and the OpenAPI document.</summary>
    public static WebApplicationBuilder AddHttpApi(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<ApiOptions>().Bind(builder.Configuration.GetSection(ApiOptions.Section));
        services.Configure<JsonOptions>(o => ConfigureJson(o.SerializerOptions));

        // Binding failures (malformed JSON, wrong types, missing body) throw, so that one handler answers them all.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            var request = context.HttpContext.Request;
            context.ProblemDetails.Instance ??= $"{request.Method} {request.Path}";
            context.ProblemDetails.Detail ??= context.ProblemDetails.Status switch
            {
                StatusCodes.Status404NotFound => $"Nothing is found at {request.Path}.",
                StatusCodes.Status405MethodNotAllowed => $"{request.Method} is not allowed on {request.Path}; see the Allow header.",
                StatusCodes.Status415UnsupportedMediaType => "Send the body as JSON with 'Content-Type: application/json'.",
                _ => null,
            };
        });
        services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
            kestrel.Limits.MaxRequestBodySize = context.Configuration.GetValue($"{ApiOptions.Section}:{nameof(ApiOptions.MaxRequestBodyBytes)}", new ApiOptions().MaxRequestBodyBytes));
        services.AddApiDocuments();
        return builder;
    }

    public static WebApplication UseHttpApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseMiddleware<SecurityHeaders>();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<RequestBodyLimit>();
        app.UseStaticFiles();
        return app;
    }

    public static void ConfigureJson(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.Converters.Add(new UtcDateTimeOffsetConverter());
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
    }
}
