using System.Collections.Concurrent;

namespace Analytics.Api.Infrastructure.RateLimiting;

/// <summary>A sliding-window log per key, in this process only (single-node mode, or while Redis is down).</summary>
public sealed class InProcessRateLimitStore(TimeProvider clock) : IRateLimitStore
{
    private readonly ConcurrentDictionary<string, Queue<DateTimeOffset>> _windows = new(StringComparer.Ordinal);

    public Task<RateLimitDecision> HitAsync(string key, RateLimitRule rule, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var now = clock.GetUtcNow();
        var hits = _windows.GetOrAdd(key, _ => new Queue<DateTimeOffset>());
        lock (hits)
        {
            while (hits.Count > 0 && hits.Peek() <= now - rule.Window)
            {
                hits.Dequeue();
            }

            if (hits.Count >= rule.Limit)
            {
                var retryAfter = hits.Peek() + rule.Window - now;
                return Task.FromResult(new RateLimitDecision(false, rule.Limit, 0, retryAfter, retryAfter));
            }

            hits.Enqueue(now);
            var resetAfter = hits.Peek() + rule.Window - now;
            return Task.FromResult(new RateLimitDecision(true, rule.Limit, rule.Limit - hits.Count, TimeSpan.Zero, resetAfter));
        }
    }

    public Task ResetAsync(string key, CancellationToken ct)
    {
        _windows.TryRemove(key, out _);
        return Task.CompletedTask;
    }
}
