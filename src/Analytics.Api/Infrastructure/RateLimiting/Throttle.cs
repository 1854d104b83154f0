using Analytics.Api.Infrastructure.Results;

namespace Analytics.Api.Infrastructure.RateLimiting;

/// <summary>Counts one attempt against several limits (e.g. per e-mail and per IP); the first one exceeded refuses it.</summary>
public sealed class Throttle(IRateLimitStore store)
{
    public async Task<Error?> HitAsync(IEnumerable<(string Key, RateLimitRule Rule)> limits, string what, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(limits);
        foreach (var (key, rule) in limits)
        {
            var decision = await store.HitAsync(key, rule, ct);
            if (!decision.Allowed)
            {
                return new Error(ErrorKind.TooManyRequests, "rate_limited", "Too many requests.", $"Too many {what}; try again in {Math.Ceiling(decision.RetryAfter.TotalSeconds)} seconds.", decision.RetryAfter)
                {
                    RateLimit = decision,
                };
            }
        }

        return null;
    }

    public Task ResetAsync(string key, CancellationToken ct) => store.ResetAsync(key, ct);
}
