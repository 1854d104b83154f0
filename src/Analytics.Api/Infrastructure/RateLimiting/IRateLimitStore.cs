namespace Analytics.Api.Infrastructure.RateLimiting;

/// <summary>
/// Sliding-window counters: each <see cref="HitAsync"/> is one atomic decision, so parallel attempts cannot slip
/// past the limit. Backed by Redis (shared by every node) or in-process.
/// </summary>
public interface IRateLimitStore
{
    Task<RateLimitDecision> HitAsync(string key, RateLimitRule rule, CancellationToken ct);

    /// <summary>
    /// A rate (GCRA): <see cref="RateRule.PerSecond"/> sustained, bursts up to <see cref="RateRule.Burst"/>. One value
    /// per key whatever the rate, so it suits high-volume limits (event ingestion) where a log of hits would not.
    /// </summary>
    /// <remarks><paramref name="cost"/> units are taken at once (a batch of 500 events costs 500), all or none.</remarks>
    Task<RateLimitDecision> HitRateAsync(string key, RateRule rule, int cost, CancellationToken ct);

    /// <summary>Forgets the hits of <paramref name="key"/> (e.g. after a successful sign-in).</summary>
    Task ResetAsync(string key, CancellationToken ct);
}

public sealed record RateLimitRule(int Limit, TimeSpan Window);

public sealed record RateRule(double PerSecond, int Burst)
{
    public double IntervalMs => 1000.0 / PerSecond;
}

/// <summary><paramref name="Remaining"/> after this hit; <paramref name="RetryAfter"/> is zero when allowed.</summary>
public sealed record RateLimitDecision(bool Allowed, int Limit, int Remaining, TimeSpan RetryAfter, TimeSpan ResetAfter);
