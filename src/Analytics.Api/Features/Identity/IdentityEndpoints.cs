using Analytics.Api.Features.Identity.Activate;
using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Features.Identity.Sessions;
using Analytics.Api.Features.Users.UserActivity;

namespace Analytics.Api.Features.Identity;

public static class IdentityEndpoints
{
    public static IServiceCollection AddIdentity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ActivationOptions>().Bind(configuration.GetSection(ActivationOptions.Section));
        services.AddOptions<SignInOptions>().Bind(configuration.GetSection(SignInOptions.Section));
        services.AddSingleton<SessionTokens>();
        services.AddSingleton<RecentActivity>();
        services.AddSingleton<CommittedChanges>();
        services.AddOptions<AdminBootstrapOptions>().Bind(configuration.GetSection(AdminBootstrapOptions.Section));
        services.AddHostedService<AdminBootstrap>();
        return services;
    }

    public static IEndpointRouteBuilder MapIdentity(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Identity");
        Register.Register.Map(api);
        Activate.Activate.Map(api);
        ActivationPage.Map(app);
        ResendActivation.Map(api);
        Login.Login.Map(api);
        Refresh.Refresh.Map(api);
        Logout.Logout.Map(api);
        Me.Me.Map(api);
        UpdateProfile.UpdateProfile.Map(api);
        ChangePassword.ChangePassword.Map(api);
        ListSessions.Map(api);
        RevokeSession.Map(api);
        UserActivity.MapOwn(api);
        return app;
    }
}
