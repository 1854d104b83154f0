using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Analytics.Api.Infrastructure.RateLimiting;

/// <summary>
/// A sliding-window log per key, in this process only (single-node mode, or while Redis is down). Windows that
/// have emptied are swept away, so keys seen once (random e-mails, scanning IPs) do not pile up.
/// </summary>
public sealed class InProcessRateLimitStore(TimeProvider clock) : IRateLimitStore
{
    private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox<double>> _theoreticalArrivals = new(StringComparer.Ordinal);
    private long _nextSweepTicks;

    public Task<RateLimitDecision> HitAsync(string key, RateLimitRule rule, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var now = clock.GetUtcNow();
        SweepIfDue(now);
        while (true)
        {
            var window = _windows.GetOrAdd(key, _ => new Window());
            lock (window)
            {
                // Swept between GetOrAdd and the lock: take the fresh window instead.
                if (window.Removed)
                {
                    continue;
                }

                window.Span = rule.Window;
                window.Trim(now);
                if (window.Hits.Count >= rule.Limit)
                {
                    var retryAfter = window.Hits.Peek() + rule.Window - now;
                    return Task.FromResult(new RateLimitDecision(false, rule.Limit, 0, retryAfter, retryAfter));
                }

                window.Hits.Enqueue(now);
                var resetAfter = window.Hits.Peek() + rule.Window - now;
                return Task.FromResult(new RateLimitDecision(true, rule.Limit, rule.Limit - window.Hits.Count, TimeSpan.Zero, resetAfter));
            }
        }
    }

    public Task<RateLimitDecision> HitRateAsync(string key, RateRule rule, int cost, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var now = clock.GetUtcNow();
        SweepIfDue(now);
        var nowMs = now.ToUnixTimeMilliseconds();
        var box = _theoreticalArrivals.GetOrAdd(key, _ => new StrongBox<double>(nowMs));
        lock (box)
        {
            var (allowed, tat, decision) = Gcra.Decide(box.Value, nowMs, rule, cost);
            if (allowed)
            {
                box.Value = tat;
            }

            return Task.FromResult(decision);
        }
    }

    public Task ResetAsync(string key, CancellationToken ct)
    {
        _theoreticalArrivals.TryRemove(key, out _);
        if (_windows.TryRemove(key, out var window))
        {
            lock (window)
            {
                window.Removed = true;
            }
        }

        return Task.CompletedTask;
    }

    private void SweepIfDue(DateTimeOffset now)
    {
        var due = Interlocked.Read(ref _nextSweepTicks);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextSweepTicks, (now + SweepEvery).UtcTicks, due) != due)
        {
            return;
        }

        // A rate whose theoretical arrival time has passed is back to a full burst: forgetting it changes nothing.
        foreach (var (key, box) in _theoreticalArrivals)
        {
            lock (box)
            {
                if (box.Value < now.ToUnixTimeMilliseconds())
                {
                    _theoreticalArrivals.TryRemove(new KeyValuePair<string, StrongBox<double>>(key, box));
                }
            }
        }

        foreach (var (key, window) in _windows)
        {
            lock (window)
            {
                window.Trim(now);
                if (window.Hits.Count == 0)
                {
                    window.Removed = true;
                    _windows.TryRemove(new KeyValuePair<string, Window>(key, window));
                }
            }
        }
    }

    private sealed class Window
    {
        public Queue<DateTimeOffset> Hits { get; } = new();

        public TimeSpan Span { get; set; }

        public bool Removed { get; set; }

        public void Trim(DateTimeOffset now)
        {
            while (Hits.Count > 0 && Hits.Peek() <= now - Span)
            {
                Hits.Dequeue();
            }
        }
    }
}
