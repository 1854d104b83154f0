using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Auth;

public static class AuthServiceCollectionExtensions
{
    public static IServiceCollection AddAuth(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        services.AddOptions<JwtOptions>()
            .Bind(configuration.GetSection(JwtOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<JwtOptions>, JwtOptionsValidator>();
        services.AddOptions<PasswordHashingOptions>()
            .Bind(configuration.GetSection(PasswordHashingOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<PasswordHashingOptions>, PasswordHashingOptionsValidator>();
        services.AddSingleton<IPasswordHasher, Argon2idPasswordHasher>();
        services.AddSingleton<PasswordPolicy>();
        services.AddSingleton<AccessTokens>();
        services.AddSingleton<SessionGate>();
        services.AddSingleton<ValidatedTokens>();

        services.AddSingleton<ApiKeyDirectory>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.JwtOrApiKey)
            .AddJwtBearer()
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddPolicyScheme(ApiKeyAuthenticationHandler.JwtOrApiKey, null, o => o.ForwardDefaultSelector = ApiKeyAuthenticationHandler.SelectScheme);
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<JwtOptions>, ValidatedTokens>((bearer, jwt, tokens) =>
            {
                bearer.MapInboundClaims = false;
                bearer.TokenHandlers.Clear();
                bearer.TokenHandlers.Add(tokens);
                // Nothing reads the raw token back from the authentication properties: not storing it saves work per request.
                bearer.SaveToken = false;
                bearer.RequireHttpsMetadata = !environment.IsDevelopment();
                bearer.TokenValidationParameters = AccessTokens.ValidationParameters(jwt.Value);
                bearer.Events = new JwtBearerEvents
                {
                    OnMessageReceived = TakeTokenFromQuery,
                    OnTokenValidated = CheckSessionAsync,
                    OnChallenge = WriteChallengeAsync,
                    OnForbidden = WriteForbiddenAsync,
                };
            });
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Admin, policy => policy.RequireAuthenticatedUser().RequireRole(Roles.Admin));
        return services;
    }

    private static Task TakeTokenFromQuery(MessageReceivedContext context)
    {
        if (string.IsNullOrEmpty(context.Request.Headers.Authorization)
            && CredentialsInQueryAttribute.From(context.Request, CredentialsInQueryAttribute.AccessToken) is { } token
            && !token.StartsWith(ApiKeyFormat.Prefix, StringComparison.Ordinal))
        {
            context.Token = token;
        }

        return Task.CompletedTask;
    }

    private static async Task CheckSessionAsync(TokenValidatedContext context)
    {
        var user = context.Principal is { } principal ? CurrentUser.From(principal) : null;
        if (user is null)
        {
            context.Fail("The token lacks the subject, role or session claim.");
            return;
        }

        var gate = context.HttpContext.RequestServices.GetRequiredService<SessionGate>();
        var aborted = context.HttpContext.RequestAborted;
        try
        {
            if (await gate.WhyRejectedAsync(user, aborted) is { } reason)
            {
                context.Fail(reason);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client left during the check: no answer is owed, and the handler would log the exception as an error.
            context.Fail("The request was aborted.");
        }
    }

    private static async Task WriteChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var detail = context.AuthenticateFailure switch
        {
            null => "This endpoint needs 'Authorization: Bearer <access token>'.",
            Microsoft.IdentityModel.Tokens.SecurityTokenExpiredException => "The access token has expired; refresh it.",
            Microsoft.IdentityModel.Tokens.SecurityTokenException => "The access token is not valid.",
            var failure => failure.Message,
        };
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await WriteAsync(context.HttpContext, new ProblemDetails { Status = 401, Title = "Authentication required.", Detail = detail });
    }

    private static Task WriteForbiddenAsync(ForbiddenContext context)
    {
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return WriteAsync(context.HttpContext, new ProblemDetails { Status = 403, Title = "Forbidden.", Detail = "Your role does not allow this." });
    }

    private static async Task WriteAsync(HttpContext http, ProblemDetails problem) =>
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem });
}
