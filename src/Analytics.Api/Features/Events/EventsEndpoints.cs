using Analytics.Api.Features.Events.ApiKeys;
using Analytics.Api.Features.Events.TrackEvent;

namespace Analytics.Api.Features.Events;

public static class EventsEndpoints
{
    public static IServiceCollection AddEvents(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EventsOptions>().Bind(configuration.GetSection(EventsOptions.Section));
        services.AddHostedService<EventPartitions>();
        services.AddSingleton<EventBatchWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<EventBatchWriter>());
        return services;
    }

    public static IEndpointRouteBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/v1").WithTags("API keys");
        CreateApiKey.Map(keys);
        ListApiKeys.Map(keys);
        RevokeApiKey.Map(keys);
        TrackEvent.TrackEvent.Map(app.MapGroup("/api/v1").WithTags("Events"));
        return app;
    }
}
