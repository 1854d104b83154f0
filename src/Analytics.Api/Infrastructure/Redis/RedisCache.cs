using System.Collections.Concurrent;
using System.Globalization;
using Analytics.Api.Infrastructure.Caching;

namespace Analytics.Api.Infrastructure.Redis;

/// <summary>
/// <see cref="ICache"/> shared by every node. While Redis is down a read is a miss and a write is skipped. The keys of
/// writes that replace or remove an entry (<see cref="SetAsync"/>, <see cref="RemoveAsync"/>) are remembered and
/// deleted as soon as Redis answers again, and lost generation bumps are made then: a shared entry that had to change
/// (a signed-out session's state, an invalidated page) must not keep its old value for the rest of its TTL. A delete
/// never puts back old data (readers refill from PostgreSQL), whatever order nodes replay in.
/// </summary>
public sealed class RedisCache(RedisLink link, RedisOutage outage, TimeProvider clock) : ICache
{
    private const string Prefix = "cache:";
    private const string GenerationPrefix = "gen:";

    /// <summary>Keys and scopes remembered at most (beyond, an outage's further invalidations are lost, and logged as the outage is).</summary>
    private const int MaxUnwritten = 100_000;

    private static readonly TimeSpan GenerationTtl = TimeSpan.FromDays(7);

    // Increments the generation and keeps it for a week after its last bump (per-user scopes would otherwise stay for
    // ever). A scope that expired starts again from the current time in milliseconds, not from 1, so no number it had
    // before (and no answer cached under one) comes back.
    private static readonly Analytics.Redis.RedisScript Bump = new("""
        local v = redis.call('INCR', KEYS[1])
        if v == 1 then
          local t = redis.call('TIME')
          v = redis.call('INCRBY', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return v
        """);

    private readonly SingleFlight _flights = new();
    private readonly ConcurrentDictionary<string, byte> _unwritten = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _unbumped = new(StringComparer.Ordinal);
    private int _remembered;
    private int _replaying;

    // Set after anything is remembered, cleared by a replay before it drains: one read per successful command.
    private volatile bool _anyUnwritten;

    public Task<byte[]?> GetAsync(string key, CancellationToken ct) =>
        RunAsync(async client => await client.GetAsync(Prefix + key, ct), default(byte[]));

    public async Task SetAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct)
    {
        if (!await RunAsync(async client => await client.SetAsync(Prefix + key, value, ttl, cancellationToken: ct), false))
        {
            Remember(_unwritten, key);
        }
    }

    public Task<bool> AddAsync(string key, byte[] value, TimeSpan ttl, CancellationToken ct) =>
        RunAsync(async client => await client.SetAsync(Prefix + key, value, ttl, Analytics.Redis.RedisSetCondition.IfNotExists, ct), false);

    public async Task RemoveAsync(string key, CancellationToken ct)
    {
        if (!await RunAsync(async client => await client.DeleteAsync(Prefix + key, ct), false))
        {
            Remember(_unwritten, key);
        }
    }

    // Unknown (Redis failed): a number no generation has (negative), the same for every read of this minute so that
    // identical requests still share one computation, and never the 0 an answer may have been cached under.
    public Task<long> GetGenerationAsync(string scope, CancellationToken ct) =>
        RunAsync(async client => long.TryParse(await client.GetStringAsync(GenerationPrefix + scope, ct), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0, -(clock.GetUtcNow().ToUnixTimeSeconds() / 60));

    public async Task BumpGenerationAsync(string scope, CancellationToken ct)
    {
        if (!await RunAsync(async client => await BumpAsync(client, scope, ct), false))
        {
            Remember(_unbumped, scope);
        }
    }

    public Task<(byte[] Value, bool FromCache)> GetOrCreateAsync(string key, TimeSpan ttl, Func<CancellationToken, Task<byte[]>> create, CancellationToken ct) =>
        _flights.GetOrCreateAsync(this, key, ttl, create, ct);

    private static async Task<bool> BumpAsync(Analytics.Redis.RedisClient client, string scope, CancellationToken ct)
    {
        await client.ScriptEvaluateAsync(Bump, [GenerationPrefix + scope], [(long)GenerationTtl.TotalMilliseconds], ct);
        return true;
    }

    private void Remember(ConcurrentDictionary<string, byte> into, string key)
    {
        if (Volatile.Read(ref _remembered) < MaxUnwritten && into.TryAdd(key, 0))
        {
            Interlocked.Increment(ref _remembered);
        }

        _anyUnwritten = true;
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

    // Each key is taken out before it is sent and remembered again when Redis fails again.
    private async Task ReplayAsync()
    {
        var client = await link.ClientAsync();
        await DrainAsync(_unwritten, key => client.DeleteAsync(Prefix + key, CancellationToken.None).AsTask());
        await DrainAsync(_unbumped, scope => BumpAsync(client, scope, CancellationToken.None));
    }

    private async Task DrainAsync(ConcurrentDictionary<string, byte> remembered, Func<string, Task> send)
    {
        foreach (var key in remembered.Keys)
        {
            if (!remembered.TryRemove(key, out _))
            {
                continue;
            }

            Interlocked.Decrement(ref _remembered);
            try
            {
                await send(key);
            }
            catch (Exception ex) when (RedisOutage.IsOutage(ex))
            {
                Remember(remembered, key);
                throw;
            }
        }
    }
}
