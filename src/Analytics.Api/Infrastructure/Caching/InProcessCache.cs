using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;

namespace Analytics.Api.Infrastructure.Caching;

/// <summary>Single-node cache: what <see cref="ICache"/> is when no Redis is configured (or while Redis is down).</summary>
public sealed class InProcessCache(IMemoryCache memory) : ICache
{
    private readonly ConcurrentDictionary<string, long> _generations = new(StringComparer.Ordinal);
    private readonly Lock _addGate = new();
    private readonly SingleFlight _flights = new();

    public Task<byte[]?> GetAsync(string key, CancellationToken ct) =>
        Task.FromResult(memory.TryGetValue(key, out byte[]? value) ? value : null);

    public Task SetAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct)
    {
        // Under AddAsync's lock: an add that checked before this write must not land after it.
        lock (_addGate)
        {
            memory.Set(key, value, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = ttl, Size = value.Length });
        }

        return Task.CompletedTask;
    }

    public Task<bool> AddAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct)
    {
        lock (_addGate)
        {
            if (memory.TryGetValue(key, out _))
            {
                return Task.FromResult(false);
            }

            memory.Set(key, value, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = ttl, Size = value.Length });
            return Task.FromResult(true);
        }
    }

    public Task RemoveAsync(string key, CancellationToken ct)
    {
        memory.Remove(key);
        return Task.CompletedTask;
    }

    public Task<long> GetGenerationAsync(string scope, CancellationToken ct) =>
        Task.FromResult(_generations.GetValueOrDefault(scope));

    public Task BumpGenerationAsync(string scope, CancellationToken ct)
    {
        _generations.AddOrUpdate(scope, 1, (_, current) => current + 1);
        return Task.CompletedTask;
    }

    public Task<(byte[] Value, bool FromCache)> GetOrCreateAsync(string key, TimeSpan ttl, Func<CancellationToken, Task<byte[]>> create, CancellationToken ct) =>
        _flights.GetOrCreateAsync(this, key, ttl, create, ct);
}
