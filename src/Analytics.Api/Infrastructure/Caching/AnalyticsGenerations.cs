using System.Collections.Concurrent;

namespace Analytics.Api.Infrastructure.Caching;

/// <summary>
/// The generations that cached analytics answers embed in their keys. Committed events bump the scopes they
/// change (see <c>AnalyticsCacheInvalidation</c>); a change of age or gender bumps the feature scopes, because
/// those answers filter by them. A bumped scope makes every answer cached under it unreachable at once.
/// </summary>
public sealed class AnalyticsGenerations(ICache cache, TimeProvider clock)
{
    // Node-local copies for RecentAsync, and how many bumps this node has made of each scope RecentAsync reads (a copy
    // read before one of them is not used after it). Only those scopes: the per-user scopes bumped by every event's
    // commit would otherwise grow this node's memory by an entry per user for ever.
    private readonly ConcurrentDictionary<string, Seen> _seen = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _bumps = new(StringComparer.Ordinal);

    /// <summary>Admin dashboard answers: bumped by registrations, role and status changes, and each rollup run with new data.</summary>
    public const string Dashboard = "dashboard";

    /// <summary>Feature clicks of every user, as admins read them.</summary>
    public const string AllFeatureClicks = "analytics:features:all";

    /// <summary>Events of every API key, as the admin's top clients read them.</summary>
    public const string AllKeyUsage = "analytics:usage:all";

    public static string FeatureClicksOf(Guid userId) => $"analytics:features:user:{userId:N}";

    public static string KeyUsageOf(Guid ownerId) => $"analytics:usage:owner:{ownerId:N}";

    public Task<long> CurrentAsync(string scope, CancellationToken ct) => cache.GetGenerationAsync(scope, ct);

    /// <summary>
    /// The generation of <paramref name="scope"/> as this node saw it at most <paramref name="maxAge"/> ago: a bump
    /// made by another node shows within <paramref name="maxAge"/>, one made by this node at once. Zero is
    /// <see cref="CurrentAsync"/>.
    /// </summary>
    public async Task<long> RecentAsync(string scope, TimeSpan maxAge, CancellationToken ct)
    {
        if (maxAge <= TimeSpan.Zero)
        {
            return await CurrentAsync(scope, ct);
        }

        // Counted from before the read below: a bump during it makes the copy stale at once.
        var bumps = _bumps.GetOrAdd(scope, 0);
        var now = clock.GetUtcNow();
        if (_seen.TryGetValue(scope, out var seen) && seen.Bumps == bumps && now - seen.At < maxAge && now >= seen.At)
        {
            return seen.Generation;
        }

        var generation = await CurrentAsync(scope, ct);
        _seen[scope] = new Seen(generation, now, bumps);
        return generation;
    }

    /// <summary>Bumps every scope in <paramref name="scopes"/> (each once), concurrently.</summary>
    public Task BumpAsync(IEnumerable<string> scopes, CancellationToken ct) =>
        Task.WhenAll(scopes.Distinct(StringComparer.Ordinal).Select(async scope =>
        {
            try
            {
                await cache.BumpGenerationAsync(scope, ct);
            }
            finally
            {
                while (_bumps.TryGetValue(scope, out var n) && !_bumps.TryUpdate(scope, n + 1, n))
                {
                }
            }
        }));

    /// <summary>After a committed change of <paramref name="userId"/>'s age or gender. Not cancelled: the change is durable.</summary>
    public Task DemographicsChangedAsync(Guid userId) => BumpAsync([FeatureClicksOf(userId), AllFeatureClicks], CancellationToken.None);

    private sealed record Seen(long Generation, DateTimeOffset At, long Bumps);
}
