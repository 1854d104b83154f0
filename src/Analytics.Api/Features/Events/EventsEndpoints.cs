using Analytics.Api.Features.Events.ApiKeys;
using Analytics.Api.Features.Events.LiveStream;
using Analytics.Api.Features.Events.TrackEvent;
using System.Threading.RateLimiting;
using Analytics.Api.Infrastructure.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Features.Events;

public static class EventsEndpoints
{
    public static IServiceCollection AddEvents(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EventsOptions>().Bind(configuration.GetSection(EventsOptions.Section));
        services.AddHostedService<EventPartitions>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<EventsOptions>>((limiter, events) =>
        {
            limiter.AddConcurrencyLimiter(TrackEvent.TrackEvent.BatchConcurrency, o =>
            {
                o.PermitLimit = events.Value.MaxConcurrentBatches > 0 ? events.Value.MaxConcurrentBatches : 4 * Environment.ProcessorCount;
                o.QueueLimit = events.Value.BatchQueueLimit;
                o.QueueProcessingOrder = QueueProcessingOrder.OldestFirst;
            });
            limiter.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            limiter.OnRejected = (context, _) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
                return ValueTask.CompletedTask;
            };
        });
        services.AddSingleton<TrackEvent.TrackEvent.Rules>();
        services.AddSingleton<TrackEvent.TrackEvent.Intake>();
        services.AddSingleton<EventBatchWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<EventBatchWriter>());
        services.AddSingleton<LiveEvents>();
        services.AddHostedService(sp => sp.GetRequiredService<LiveEvents>());
        services.AddSingleton<ILiveAudience>(sp => sp.GetRequiredService<LiveEvents>());
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
