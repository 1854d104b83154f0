using Analytics.Api.Features.Analytics.Usage;
using Analytics.Api.Features.Events.TrackEvent;
using Analytics.Api.Infrastructure.Auth;

namespace Analytics.Api.Features.Analytics;

public static class AnalyticsEndpoints
{
    public static IServiceCollection AddAnalytics(this IServiceCollection services)
    {
        services.AddSingleton<IEventCommitObserver, AnalyticsCacheInvalidation>();
        return services;
    }

    public static IEndpointRouteBuilder MapAnalytics(this IEndpointRouteBuilder app)
    {
        FeatureAnalytics.FeatureAnalytics.Map(app.MapGroup("/api/v1").WithTags("Analytics"));
        var usage = app.MapGroup("/api/v1").WithTags("Usage");
        DailyUsage.Map(usage);
        TopClients.Map(usage).RequireAuthorization(Policies.Admin);
        return app;
    }
}
