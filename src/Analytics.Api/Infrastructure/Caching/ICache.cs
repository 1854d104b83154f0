using System.Text.Json;

namespace Analytics.Api.Infrastructure.Caching;

/// <summary>
/// Cache-aside storage shared by every node (Redis) or local to one (in-process). Implementations never throw for
/// cache trouble: a failed read is a miss and a failed write is skipped, so the database can always answer.
/// </summary>
public interface ICache
{
    Task<byte[]?> GetAsync(string key, CancellationToken ct);

    Task SetAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct);

    /// <summary>Stores <paramref name="value"/> only if <paramref name="key"/> holds nothing; false when it did.</summary>
    Task<bool> AddAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct);

    Task RemoveAsync(string key, CancellationToken ct);

    /// <summary>The current generation of <paramref name="scope"/>; keys that embed it go stale when it is bumped.</summary>
    Task<long> GetGenerationAsync(string scope, CancellationToken ct);

    Task BumpGenerationAsync(string scope, CancellationToken ct);
}

public static class CacheExtensions
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Returns the cached value of <paramref name="key"/>, or computes, stores and returns it.</summary>
    public static async Task<(T Value, bool FromCache)> GetOrCreateAsync<T>(this ICache cache, string key, TimeSpan ttl, Func<CancellationToken, Task<T>> create, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(create);
        if (await cache.GetAsync(key, ct) is { } cached)
        {
            return (JsonSerializer.Deserialize<T>(cached, Json)!, true);
        }

        var value = await create(ct);
        await cache.SetAsync(key, JsonSerializer.SerializeToUtf8Bytes(value, Json), ttl, ct);
        return (value, false);
    }
}
