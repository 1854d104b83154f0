using System.Collections.Concurrent;
using System.Globalization;
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

    // KEYS[1] the TAT; ARGV: emission interval ms, burst, then one cost per hit, decided in order. Returns {now, then
    // per hit the TAT it started from and 1 or 0 (allowed)}; numbers as strings (Lua numbers would be truncated).
    private static readonly RedisScript CellRate = new("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
        local interval = tonumber(ARGV[1])
        local tolerance = interval * tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1]) or now)
        if tat < now then tat = now end
        local out = {tostring(now)}
        local taken = false
        for i = 3, #ARGV do
          local new_tat = tat + interval * tonumber(ARGV[i])
          out[#out + 1] = tostring(tat)
          if new_tat - tolerance > now then
            out[#out + 1] = 0
          else
            out[#out + 1] = 1
            tat = new_tat
            taken = true
          end
        end
        if taken then
          redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tolerance + interval))
        end
        return out
        """);

    private readonly ConcurrentDictionary<(string Key, RateRule Rule), RateQueue> _queues = new();

    /// <summary>
    /// Hits of one key are coalesced: while a script call for the key is in flight, new hits wait and then go
    /// together in the next call, which decides them in arrival order exactly as separate calls would. Under
    /// load (every event of an API key) this is one Redis round trip per group instead of one per request.
    /// </summary>
    public Task<RateLimitDecision> HitRateAsync(string key, RateRule rule, int cost, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var hit = new PendingHit(cost);
        while (true)
        {
            var queue = _queues.GetOrAdd((key, rule), _ => new RateQueue());
            bool start;
            lock (queue)
            {
                // Retired while idle between GetOrAdd and the lock: take the fresh queue instead.
                if (queue.Retired)
                {
                    continue;
                }

                queue.Waiting.Add(hit);
                start = !queue.Busy;
                queue.Busy = true;
            }

            if (start)
            {
                _ = DrainAsync(key, rule, queue);
            }

            // Once sent, the units are taken whether or not the caller still waits.
            return hit.Done.Task.WaitAsync(ct);
        }
    }

    private async Task DrainAsync(string key, RateRule rule, RateQueue queue)
    {
        while (true)
        {
            List<PendingHit> hits;
            lock (queue)
            {
                if (queue.Waiting.Count == 0)
                {
                    queue.Busy = false;
                    queue.Retired = true;
                    _queues.TryRemove(new KeyValuePair<(string, RateRule), RateQueue>((key, rule), queue));
                    return;
                }

                hits = queue.Waiting;
                queue.Waiting = [];
            }

            await DecideAsync(key, rule, hits);
        }
    }

    private async Task DecideAsync(string key, RateRule rule, List<PendingHit> hits)
    {
        try
        {
            var client = await link.ClientAsync();
            var args = new object[hits.Count + 2];
            args[0] = rule.IntervalMs;
            args[1] = rule.Burst;
            for (var i = 0; i < hits.Count; i++)
            {
                args[i + 2] = hits[i].Cost;
            }

            var reply = (await client.ScriptEvaluateAsync(CellRate, [Prefix + key], args, CancellationToken.None)).AsArray()!;
            outage.Succeeded();
            var now = double.Parse(reply[0].AsString()!, CultureInfo.InvariantCulture);
            for (var i = 0; i < hits.Count; i++)
            {
                var tat = double.Parse(reply[1 + (2 * i)].AsString()!, CultureInfo.InvariantCulture);
                var allowed = reply[2 + (2 * i)].AsInt64() == 1;
                hits[i].Done.TrySetResult(Decision(tat, now, rule, hits[i].Cost, allowed));
            }
        }
        catch (Exception ex) when (RedisOutage.IsOutage(ex))
        {
            outage.Failed("rate limits", ex);
            foreach (var hit in hits)
            {
                hit.Done.TrySetResult(await fallback.HitRateAsync(key, rule, hit.Cost, CancellationToken.None));
            }
        }
        catch (Exception ex)
        {
            foreach (var hit in hits)
            {
                hit.Done.TrySetException(ex);
            }
        }
    }

    // The script decided; the figures come from the same arithmetic on the TAT it started from. At the exact
    // boundary, string rounding could make the two disagree: the script's verdict stands.
    private static RateLimitDecision Decision(double tat, double now, RateRule rule, int cost, bool allowed)
    {
        var decision = Gcra.Decide(tat, now, rule, cost).Decision;
        return decision.Allowed == allowed
            ? decision
            : decision with { Allowed = allowed, Remaining = 0, RetryAfter = allowed ? TimeSpan.Zero : TimeSpan.FromMilliseconds(1) };
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

    private sealed class PendingHit(int cost)
    {
        public int Cost { get; } = cost;

        public TaskCompletionSource<RateLimitDecision> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class RateQueue
    {
        public List<PendingHit> Waiting { get; set; } = [];

        public bool Busy { get; set; }

        public bool Retired { get; set; }
    }
}
