using System.Globalization;
using Analytics.Api.Infrastructure.Caching;

namespace Analytics.Api.Infrastructure.Redis;

/// <summary><see cref="ICache"/> shared by every node. While Redis is down a read is a miss and a write is skipped.</summary>
public sealed class RedisCache(RedisLink link, RedisOutage outage) : ICache
{
    private const string Prefix = "cache:";
    private const string GenerationPrefix = "gen:";

    private readonly SingleFlight _flights = new();

    public Task<byte[]?> GetAsync(string key, CancellationToken ct) =>
        RunAsync(async client => await client.GetAsync(Prefix + key, ct), default(byte[]));

    public Task SetAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct) =>
        RunAsync(async client => await client.SetAsync(Prefix + key, value, ttl, cancellationToken: ct), false);

    public Task<bool> AddAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct) =>
        RunAsync(async client => await client.SetAsync(Prefix + key, value, ttl, Analytics.Redis.RedisSetCondition.IfNotExists, ct), false);

    public Task RemoveAsync(string key, CancellationToken ct) =>
        RunAsync(async client => await client.DeleteAsync(Prefix + key, ct), false);

    public Task<long> GetGenerationAsync(string scope, CancellationToken ct) =>
        RunAsync(async client => long.TryParse(await client.GetStringAsync(GenerationPrefix + scope, ct), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0, 0L);

    public Task BumpGenerationAsync(string scope, CancellationToken ct) =>
        RunAsync(async client => await client.IncrementAsync(GenerationPrefix + scope, cancellationToken: ct), 0L);

    public Task<(byte[] Value, bool FromCache)> GetOrCreateAsync(string key, TimeSpan ttl, Func<CancellationToken, Task<byte[]>> create, CancellationToken ct) =>
        _flights.GetOrCreateAsync(this, key, ttl, create, ct);

    private async Task<T> RunAsync<T>(Func<Analytics.Redis.RedisClient, Task<T>> command, T fallback)
    {
        try
        {
            var result = await command(await link.ClientAsync());
            outage.Succeeded();
            return result;
        }
        catch (Exception ex) when (RedisOutage.IsOutage(ex))
        {
            outage.Failed("cache", ex);
            return fallback;
        }
    }
}
