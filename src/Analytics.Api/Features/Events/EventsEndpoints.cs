using Analytics.Api.Features.Events.ApiKeys;
using Analytics.Api.Features.Events.LiveStream;
using Analytics.Api.Features.Events.TrackEvent;
using Analytics.Api.Infrastructure.Http;

namespace Analytics.Api.Features.Events;

public static class EventsEndpoints
{
    public static IServiceCollection AddEvents(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EventsOptions>().Bind(configuration.GetSection(EventsOptions.Section));
        services.AddHostedService<EventPartitions>();
        services.AddSingleton<EventBatchWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<EventBatchWriter>());
        services.AddSingleton<LiveEvents>();
        services.AddHostedService(sp => sp.GetRequiredService<LiveEvents>());
        // One event at its field limits (50 properties of 1,024 characters) is larger than SignalR's default 32 KB.
        services.AddSignalR(o => o.MaximumReceiveMessageSize = 128 * 1024)
            .AddJsonProtocol(o => HttpApiExtensions.ConfigureJson(o.PayloadSerializerOptions));
        return services;
    }

    public static IEndpointRouteBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/v1").WithTags("API keys");
        CreateApiKey.Map(keys);
        ListApiKeys.Map(keys);
        RevokeApiKey.Map(keys);
        var events = app.MapGroup("/api/v1").WithTags("Events");
        TrackEvent.TrackEvent.Map(events);
        LiveStream.LiveStream.Map(events);
        EventsHub.Map(app);
        return app;
    }
}
