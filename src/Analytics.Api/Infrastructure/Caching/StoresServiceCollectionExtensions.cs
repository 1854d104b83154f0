using Analytics.Api.Infrastructure.Health;
using Analytics.Api.Infrastructure.Messaging;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Api.Infrastructure.Redis;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Caching;

public static class StoresServiceCollectionExtensions
{
    /// <summary>
    /// The shared-state stores: cache, rate-limit counters and event bus. Redis-backed when
    /// <c>Redis__ConnectionString</c> is set (with in-process fallbacks during outages), in-process otherwise.
    /// </summary>
    internal static bool UseRedis(IServiceProvider services) => services.GetRequiredService<IOptions<RedisStoreOptions>>().Value.IsConfigured;

    public static IServiceCollection AddStores(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RedisStoreOptions>().Bind(configuration.GetSection(RedisStoreOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RedisStoreOptions>, RedisStoreOptionsValidator>();
        services.AddSingleton(sp => new InProcessCache(new MemoryCache(new MemoryCacheOptions { SizeLimit = 64 * 1024 * 1024 })));
        services.AddSingleton<InProcessRateLimitStore>();
        services.AddSingleton<LocalSubscribers>();
        services.AddSingleton<Throttle>();
        services.AddSingleton<AnalyticsGenerations>();
        services.AddSingleton<LocalCopies>();

        // Chosen when first resolved, not here: configuration can still change until the host is built (tests do).
        services.AddSingleton<RedisLink>();
        services.AddSingleton<RedisOutage>();
        services.AddSingleton<RedisCache>();
        services.AddSingleton<RedisRateLimitStore>();
        services.AddSingleton<RedisEventBus>();
        services.AddSingleton<InProcessEventBus>();
        services.AddSingleton<ICache>(sp => UseRedis(sp) ? sp.GetRequiredService<RedisCache>() : sp.GetRequiredService<InProcessCache>());
        services.AddSingleton<IRateLimitStore>(sp => UseRedis(sp) ? sp.GetRequiredService<RedisRateLimitStore>() : sp.GetRequiredService<InProcessRateLimitStore>());
        services.AddSingleton<IEventBus>(sp => UseRedis(sp) ? sp.GetRequiredService<RedisEventBus>() : sp.GetRequiredService<InProcessEventBus>());
        services.AddSingleton<IHostedService>(sp => UseRedis(sp) ? sp.GetRequiredService<RedisEventBus>() : new NothingToStart());
        services.AddSingleton<IReadinessCheck, RedisReadinessCheck>();
        return services;
    }

    private sealed class NothingToStart : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
