using System.Collections.Concurrent;
using System.Globalization;
using Analytics.Api.Infrastructure.Caching;

namespace Analytics.Api.Infrastructure.Redis;

/// <summary>
/// <see cref="ICache"/> shared by every node. While Redis is down a read is a miss and a write is skipped; the writes
/// that replace or remove an entry (<see cref="SetAsync"/>, <see cref="RemoveAsync"/>) and generation bumps are
/// replayed, the newest per key and while its TTL lasts, as soon as Redis answers again: a shared entry that had to
/// change (a signed-out session's state, an invalidated page) must not keep its old value for the rest of its TTL.
/// </summary>
public sealed class RedisCache(RedisLink link, RedisOutage outage, TimeProvider clock) : ICache
{
    private const string Prefix = "cache:";
    private const string GenerationPrefix = "gen:";
    private const int MaxUnwritten = 10_000;
    private static readonly TimeSpan GenerationTtl = TimeSpan.FromDays(7);

    private readonly SingleFlight _flights = new();
    private readonly ConcurrentDictionary<string, Unwritten> _unwritten = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _unbumped = new(StringComparer.Ordinal);
    private int _replaying;

    // Set after anything is put in the two maps, cleared by a replay before it drains them: the check on every
    // successful command is one read (ConcurrentDictionary.IsEmpty takes every lock when the map is empty).
    private volatile bool _anyUnwritten;

    public Task<byte[]?> GetAsync(string key, CancellationToken ct) =>
        RunAsync(async client => await client.GetAsync(Prefix + key, ct), default(byte[]));

    public Task SetAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct) => WriteAsync(key, new Unwritten(value, clock.GetUtcNow() + ttl), ct);

    public Task<bool> AddAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct) =>
        RunAsync(async client => await client.SetAsync(Prefix + key, value, ttl, Analytics.Redis.RedisSetCondition.IfNotExists, ct), false);

    public Task RemoveAsync(string key, CancellationToken ct) => WriteAsync(key, new Unwritten(null, DateTimeOffset.MaxValue), ct);

    // Unknown (Redis failed): a number no generation has and no other read gets, so that the answer is computed afresh
    // and cached under a key nobody reads again; a fixed fallback (0) would share an old answer cached under it.
    public Task<long> GetGenerationAsync(string scope, CancellationToken ct) =>
        RunAsync(async client => long.TryParse(await client.GetStringAsync(GenerationPrefix + scope, ct), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0, -Random.Shared.NextInt64(1, long.MaxValue));

    public async Task BumpGenerationAsync(string scope, CancellationToken ct)
    {
        if (!await RunAsync(async client => await BumpAsync(client, scope, ct), false))
        {
            _unbumped.TryAdd(scope, 0);
            _anyUnwritten = true;
        }
    }

    public Task<(byte[] Value, bool FromCache)> GetOrCreateAsync(string key, TimeSpan ttl, Func<CancellationToken, Task<byte[]>> create, CancellationToken ct) =>
        _flights.GetOrCreateAsync(this, key, ttl, create, ct);

    private async Task WriteAsync(string key, Unwritten write, CancellationToken ct)
    {
        if (await RunAsync(async client => await SendAsync(client, key, write, ct), false))
        {
            // Landed: an older write that failed must not be replayed over it.
            _unwritten.TryRemove(key, out _);
        }
        else
        {
            _unwritten[key] = write;
            _anyUnwritten = true;
            if (_unwritten.Count > MaxUnwritten)
            {
                // A long outage: drop what has run out by now (short-lived markers mostly) rather than grow.
                var now = clock.GetUtcNow();
                foreach (var (stale, old) in _unwritten.Where(w => w.Value.Until <= now))
                {
                    _unwritten.TryRemove(new KeyValuePair<string, Unwritten>(stale, old));
                }
            }
        }
    }

    /// <summary>Sends one write (nothing when its TTL has run out); true, for <see cref="RunAsync{T}"/>.</summary>
    private async Task<bool> SendAsync(Analytics.Redis.RedisClient client, string key, Unwritten write, CancellationToken ct)
    {
        if (write.Value is null)
        {
            await client.DeleteAsync(Prefix + key, ct);
            return true;
        }

        var left = write.Until - clock.GetUtcNow();
        if (left <= TimeSpan.Zero)
        {
            return true;
        }

        await client.SetAsync(Prefix + key, write.Value, left, cancellationToken: ct);
        return true;
    }

    private async Task<T> RunAsync<T>(Func<Analytics.Redis.RedisClient, Task<T>> command, T fallback)
    {
        try
        {
            var result = await command(await link.ClientAsync());
            outage.Succeeded();
            ReplaySoon();
            return result;
        }
        catch (Exception ex) when (RedisOutage.IsOutage(ex))
        {
            outage.Failed("cache", ex);
            return fallback;
        }
    }

    private void ReplaySoon()
    {
        if (!_anyUnwritten || Interlocked.CompareExchange(ref _replaying, 1, 0) != 0)
        {
            return;
        }

        _anyUnwritten = false;

        _ = Task.Run(async () =>
        {
            try
            {
                await ReplayAsync();
            }
            catch (Exception ex) when (RedisOutage.IsOutage(ex))
            {
                outage.Failed("cache", ex);
            }
            finally
            {
                Volatile.Write(ref _replaying, 0);
            }
        });
    }

    // Each entry is taken out before it is sent and put back (unless a newer write took its place) when Redis fails again.
    private async Task ReplayAsync()
    {
        var client = await link.ClientAsync();
        foreach (var (key, write) in _unwritten)
        {
            if (!_unwritten.TryRemove(new KeyValuePair<string, Unwritten>(key, write)))
            {
                continue;
            }

            try
            {
                await SendAsync(client, key, write, CancellationToken.None);
            }
            catch (Exception ex) when (RedisOutage.IsOutage(ex))
            {
                _unwritten.TryAdd(key, write);
                _anyUnwritten = true;
                throw;
            }
        }

        foreach (var scope in _unbumped.Keys)
        {
            if (!_unbumped.TryRemove(scope, out _))
            {
                continue;
            }

            try
            {
                await BumpAsync(client, scope, CancellationToken.None);
            }
            catch (Exception ex) when (RedisOutage.IsOutage(ex))
            {
                _unbumped.TryAdd(scope, 0);
                _anyUnwritten = true;
                throw;
            }
        }
    }

    // A generation expires a week after its last bump (per-user scopes would otherwise stay in Redis for ever). It then
    // reads 0 again, which is safe while answers live far shorter than that: any cached under an old 0 are long gone.
    private static async Task<bool> BumpAsync(Analytics.Redis.RedisClient client, string scope, CancellationToken ct)
    {
        // Sent together (one round trip); the expiry follows the increment on the connection.
        await Task.WhenAll(
            client.IncrementAsync(GenerationPrefix + scope, cancellationToken: ct).AsTask(),
            client.ExpireAsync(GenerationPrefix + scope, GenerationTtl, ct).AsTask());
        return true;
    }

    /// <summary>A write Redis did not take: the value (null: a removal) and until when it holds.</summary>
    private sealed record Unwritten(byte[]? Value, DateTimeOffset Until);
}
