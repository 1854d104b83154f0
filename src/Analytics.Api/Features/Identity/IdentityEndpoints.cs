using Analytics.Api.Features.Identity.Activate;

namespace Analytics.Api.Features.Identity;

public static class IdentityEndpoints
{
    public static IServiceCollection AddIdentity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ActivationOptions>().Bind(configuration.GetSection(ActivationOptions.Section));
        services.AddOptions<SignInOptions>().Bind(configuration.GetSection(SignInOptions.Section));
        services.AddSingleton<SessionTokens>();
        return services;
    }

    public static IEndpointRouteBuilder MapIdentity(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Identity");
        Register.Register.Map(api);
        Activate.Activate.Map(api);
        ResendActivation.Map(api);
        Login.Login.Map(api);
        Refresh.Refresh.Map(api);
        Logout.Logout.Map(api);
        Me.Me.Map(api);
        return app;
    }
}
