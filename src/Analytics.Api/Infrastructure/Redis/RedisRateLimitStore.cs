using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Redis;

namespace Analytics.Api.Infrastructure.Redis;

/// <summary>
/// Sliding-window log in a Redis sorted set, decided by one Lua script so that parallel hits from every node are
/// counted exactly. Uses the Redis server's clock, so nodes with skewed clocks agree. Falls back to an
/// in-process window while Redis is down.
/// </summary>
public sealed class RedisRateLimitStore(RedisLink link, RedisOutage outage, InProcessRateLimitStore fallback) : IRateLimitStore
{
    private const string Prefix = "rl:";

    // KEYS[1] the window; ARGV: window ms, limit, unique member. Returns {allowed, count after, oldest score, now}.
    private static readonly RedisScript SlidingWindow = new("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local window = tonumber(ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
        local count = redis.call('ZCARD', KEYS[1])
        local allowed = 0
        if count < tonumber(ARGV[2]) then
          redis.call('ZADD', KEYS[1], now, ARGV[3])
          redis.call('PEXPIRE', KEYS[1], window)
          count = count + 1
          allowed = 1
        end
        local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        local first = now
        if oldest[2] then first = tonumber(oldest[2]) end
        return {allowed, count, first, now}
        """);

    // KEYS[1] the TAT; ARGV: emission interval ms, burst, cost. Returns {allowed, new or current TAT, now} as strings (Lua numbers would be truncated).
    private static readonly RedisScript CellRate = new("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
        local interval = tonumber(ARGV[1])
        local tolerance = interval * tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1]) or now)
        if tat < now then tat = now end
        local new_tat = tat + interval * tonumber(ARGV[3])
        if new_tat - tolerance > now then
          return {0, tostring(tat), tostring(now)}
        end
        redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(tolerance + interval))
        return {1, tostring(new_tat), tostring(now)}
        """);

    public async Task<RateLimitDecision> HitRateAsync(string key, RateRule rule, int cost, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rule);
        try
        {
            var client = await link.ClientAsync();
            var reply = (await client.ScriptEvaluateAsync(CellRate, [Prefix + key], [rule.IntervalMs, rule.Burst, cost], ct)).AsArray()!;
            outage.Succeeded();
            var tat = double.Parse(reply[1].AsString()!, System.Globalization.CultureInfo.InvariantCulture);
            var now = double.Parse(reply[2].AsString()!, System.Globalization.CultureInfo.InvariantCulture);

            // The script stored new_tat when it allowed; Decide recomputes the same answer from the TAT it started from.
            return reply[0].AsInt64() == 1 ? Gcra.Decide(tat - (rule.IntervalMs * cost), now, rule, cost).Decision : Gcra.Decide(tat, now, rule, cost).Decision;
        }
        catch (Exception ex) when (RedisOutage.IsOutage(ex))
        {
            outage.Failed("rate limits", ex);
            return await fallback.HitRateAsync(key, rule, cost, ct);
        }
    }

    public async Task<RateLimitDecision> HitAsync(string key, RateLimitRule rule, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rule);
        try
        {
            var client = await link.ClientAsync();
            var windowMs = (long)rule.Window.TotalMilliseconds;
            var reply = (await client.ScriptEvaluateAsync(SlidingWindow, [Prefix + key], [windowMs, rule.Limit, Guid.NewGuid().ToString("N")], ct)).AsArray()!;
            outage.Succeeded();
            var allowed = reply[0].AsInt64() == 1;
            var count = (int)reply[1].AsInt64();
            var resetAfter = TimeSpan.FromMilliseconds(Math.Max(0, reply[2].AsInt64() + windowMs - reply[3].AsInt64()));
            return new RateLimitDecision(allowed, rule.Limit, Math.Max(0, rule.Limit - count), allowed ? TimeSpan.Zero : resetAfter, resetAfter);
        }
        catch (Exception ex) when (RedisOutage.IsOutage(ex))
        {
            outage.Failed("rate limits", ex);
            return await fallback.HitAsync(key, rule, ct);
        }
    }

    public async Task ResetAsync(string key, CancellationToken ct)
    {
        await fallback.ResetAsync(key, ct);
        try
        {
            await (await link.ClientAsync()).DeleteAsync(Prefix + key, ct);
            outage.Succeeded();
        }
        catch (Exception ex) when (RedisOutage.IsOutage(ex))
        {
            outage.Failed("rate limits", ex);
        }
    }
}
