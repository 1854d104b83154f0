using Analytics.Api.Infrastructure.RateLimiting;
using Microsoft.Extensions.Caching.Memory;

namespace Analytics.Api.Infrastructure.Caching;

public static class StoresServiceCollectionExtensions
{
    /// <summary>The shared-state stores: cache and rate-limit counters (in-process in single-node mode).</summary>
    public static IServiceCollection AddStores(this IServiceCollection services)
    {
        services.AddSingleton(sp => new InProcessCache(new MemoryCache(new MemoryCacheOptions { SizeLimit = 64 * 1024 * 1024 })));
        services.AddSingleton<ICache>(sp => sp.GetRequiredService<InProcessCache>());
        services.AddSingleton<InProcessRateLimitStore>();
        services.AddSingleton<IRateLimitStore>(sp => sp.GetRequiredService<InProcessRateLimitStore>());
        services.AddSingleton<Throttle>();
        return services;
    }
}
