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

    /// <summary>
    /// The bytes cached under <paramref name="key"/>, or those <paramref name="create"/> returns, stored for
    /// <paramref name="ttl"/>. Concurrent misses of one key on this node call <paramref name="create"/> once (see
    /// <see cref="SingleFlight"/>); FromCache is false only for the caller whose <paramref name="create"/> ran.
    /// </summary>
    Task<(byte[] Value, bool FromCache)> GetOrCreateAsync(string key, TimeSpan ttl, Func<CancellationToken, Task<byte[]>> create, CancellationToken ct);
}

public static class CacheExtensions
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Returns the cached value of <paramref name="key"/>, or computes, stores and returns it (once per node for concurrent misses).</summary>
    public static async Task<(T Value, bool FromCache)> GetOrCreateAsync<T>(this ICache cache, string key, TimeSpan ttl, Func<CancellationToken, Task<T>> create, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(create);
        var created = default(T);
        var (bytes, fromCache) = await cache.GetOrCreateAsync(key, ttl, async c =>
        {
            created = await create(c);
            return JsonSerializer.SerializeToUtf8Bytes(created, Json);
        }, ct);
        return fromCache ? (JsonSerializer.Deserialize<T>(bytes, Json)!, true) : (created!, false);
    }
}
