using System.Collections.Concurrent;
using System.Globalization;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Redis;

namespace Analytics.Api.Infrastructure.Redis;

/// <summary>
/// Sliding-window log in a Redis sorted set, decided by one Lua script so that parallel hits from every node are
/// counted exactly. Uses the Redis server's clock, so nodes with skewed clocks agree. Falls back to an
/// in-process window while Redis is down.
/// Rates (<see cref="HitRateAsync"/>) are leased: each script call also asks for a few units more than its hits
/// take, all or none, and the node spends them locally until they run out or expire (ADR 12). Leased units are
/// taken from the shared budget before anything spends them, so no node can admit more than the rate allows;
/// what expires unspent is lost (at most one lease per node and key, <see cref="RateLeases"/>).
/// </summary>
public sealed class RedisRateLimitStore(RedisLink link, RedisOutage outage, InProcessRateLimitStore fallback, RateLeases? leases = null) : IRateLimitStore
{
    private readonly RateLeases _leasing = leases ?? RateLeases.Default;

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

    // KEYS[1] the TAT; ARGV: emission interval ms, burst, then one cost per hit, decided in order; a negative cost is a
    // lease, granted only when no hit before it was refused (a refused caller's Retry-After must hold, and its lease would
    // spend the budget it waits for). Returns {now, then per hit the TAT it started from and 1 or 0 (allowed)}; numbers
    // as strings (Lua numbers would be truncated).
    private static readonly RedisScript CellRate = new("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
        local interval = tonumber(ARGV[1])
        local tolerance = interval * tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1]) or now)
        if tat < now then tat = now end
        local out = {tostring(now)}
        local taken = false
        local refused = false
        for i = 3, #ARGV do
          local cost = tonumber(ARGV[i])
          local lease = cost < 0
          if lease then cost = -cost end
          local new_tat = tat + interval * cost
          out[#out + 1] = tostring(tat)
          if (lease and refused) or new_tat - tolerance > now then
            out[#out + 1] = 0
            if not lease then refused = true end
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
    private readonly ConcurrentDictionary<(string Key, RateRule Rule), Lease> _leases = new();
    private long _sweep;

    /// <summary>
    /// Hits of one key are coalesced: while a script call for the key is in flight, new hits wait and then go
    /// together in the next call, which decides them in arrival order exactly as separate calls would. Under
    /// load (every event of an API key) this is one Redis round trip per group instead of one per request.
    /// </summary>
    public Task<RateLimitDecision> HitRateAsync(string key, RateRule rule, int cost, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (_leases.TryGetValue((key, rule), out var lease) && lease.TryTake(cost, rule) is { } leased)
        {
            return Task.FromResult(leased);
        }

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

            // Hits that waited while the previous call brought a lease spend it first, in arrival order.
            if (_leases.TryGetValue((key, rule), out var lease))
            {
                var unleased = new List<PendingHit>(hits.Count);
                foreach (var hit in hits)
                {
                    if (lease.TryTake(hit.Cost, rule) is { } leased)
                    {
                        hit.Done.TrySetResult(leased);
                    }
                    else
                    {
                        unleased.Add(hit);
                    }
                }

                hits = unleased;
            }

            if (hits.Count > 0)
            {
                await DecideAsync(key, rule, hits);
            }
        }
    }

    private async Task DecideAsync(string key, RateRule rule, List<PendingHit> hits)
    {
        try
        {
            var client = await link.ClientAsync();
            // The lease goes last, so the hits are decided exactly as without it; none with a hit too large for one (the
            // node could not spend it on such hits, and would pile up units taken from the shared budget).
            var leaseSize = _leasing.Size(rule);
            if (hits.Exists(h => h.Cost > leaseSize))
            {
                leaseSize = 0;
            }
            var args = new object[hits.Count + 2 + (leaseSize > 0 ? 1 : 0)];
            args[0] = rule.IntervalMs;
            args[1] = rule.Burst;
            for (var i = 0; i < hits.Count; i++)
            {
                args[i + 2] = hits[i].Cost;
            }

            if (leaseSize > 0)
            {
                args[^1] = -leaseSize;
            }

            var reply = (await client.ScriptEvaluateAsync(CellRate, [Prefix + key], args, CancellationToken.None)).AsArray()!;
            outage.Succeeded();
            var now = double.Parse(reply[0].AsString()!, CultureInfo.InvariantCulture);
            if (leaseSize > 0 && reply[^1].AsInt64() == 1)
            {
                var afterLease = Gcra.Decide(double.Parse(reply[^2].AsString()!, CultureInfo.InvariantCulture), now, rule, leaseSize).Decision;
                Leased(key, rule, leaseSize, afterLease.Remaining);
            }

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

    private void Leased(string key, RateRule rule, int units, int remaining)
    {
        var expires = Environment.TickCount64 + (long)_leasing.Lifetime.TotalMilliseconds;
        var lease = _leases.GetOrAdd((key, rule), _ => new Lease());
        lease.Refill(units, remaining, expires);

        // One entry per key that was busy lately: sweep the expired ones now and then.
        if (_leases.Count > 1024 && Interlocked.Increment(ref _sweep) % 1024 == 0)
        {
            foreach (var (entryKey, entry) in _leases)
            {
                if (entry.Expired)
                {
                    _leases.TryRemove(new KeyValuePair<(string, RateRule), Lease>(entryKey, entry));
                }
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

    /// <summary>Units this node took from the shared budget ahead of its hits.</summary>
    private sealed class Lease
    {
        private readonly Lock _gate = new();
        private int _units;
        private int _remainingAtGrant;
        private long _expires;

        public bool Expired => Environment.TickCount64 >= Volatile.Read(ref _expires);

        public void Refill(int units, int remaining, long expires)
        {
            lock (_gate)
            {
                // Units left from an earlier lease that has not expired yet stay usable until the new expiry.
                _units = (Expired ? 0 : _units) + units;
                _remainingAtGrant = remaining;
                _expires = expires;
            }
        }

        /// <summary>Allowed from the lease, or null when it cannot cover <paramref name="cost"/> (ask Redis).</summary>
        public RateLimitDecision? TryTake(int cost, RateRule rule)
        {
            lock (_gate)
            {
                if (Expired || _units < cost)
                {
                    return null;
                }

                _units -= cost;
                // As of the grant, counting the lease's unspent units as left (refills since then are not known here).
                return new RateLimitDecision(true, rule.Burst, (int)Math.Min((long)_remainingAtGrant + _units, rule.Burst), TimeSpan.Zero, TimeSpan.Zero);
            }
        }
    }

    private sealed class RateQueue
    {
        public List<PendingHit> Waiting { get; set; } = [];

        public bool Busy { get; set; }

        public bool Retired { get; set; }
    }
}

/// <summary>
/// How many units a node leases per key (<see cref="Size"/>, 0 for none) and for how long. By default the smaller of
/// 50 ms of the rate and a twentieth of the burst, for one second: an idle node wastes at most that much of a key's
/// budget, and slow rates (under 40 per second) or small bursts (under 40) are not leased at all.
/// </summary>
public sealed record RateLeases(Func<RateRule, int> Size, TimeSpan Lifetime)
{
    public static RateLeases Default { get; } = new(
        rule => (int)Math.Min(Math.Min(rule.PerSecond * 0.05, rule.Burst / 20.0), int.MaxValue / 2) is var units && units >= 2 ? units : 0,
        TimeSpan.FromSeconds(1));
}
