namespace Analytics.Api.Infrastructure.RateLimiting;

/// <summary>
/// The generic cell rate algorithm, the in-process twin of the Redis script: a request is allowed when the
/// theoretical arrival time (TAT) minus the burst tolerance is not in the future.
/// </summary>
internal static class Gcra
{
    public static (bool Allowed, double NewTat, RateLimitDecision Decision) Decide(double tat, double nowMs, RateRule rule, int cost)
    {
        var interval = rule.IntervalMs;
        var tolerance = interval * rule.Burst;
        var start = Math.Max(tat, nowMs);
        var newTat = start + (interval * cost);
        var allowAt = newTat - tolerance;
        if (allowAt > nowMs)
        {
            var retry = TimeSpan.FromMilliseconds(allowAt - nowMs);
            return (false, tat, new RateLimitDecision(false, rule.Burst, 0, retry, TimeSpan.FromMilliseconds(start - nowMs)));
        }

        var remaining = (int)Math.Floor((tolerance - (newTat - nowMs)) / interval);
        return (true, newTat, new RateLimitDecision(true, rule.Burst, Math.Max(0, remaining), TimeSpan.Zero, TimeSpan.FromMilliseconds(newTat - nowMs)));
    }
}
