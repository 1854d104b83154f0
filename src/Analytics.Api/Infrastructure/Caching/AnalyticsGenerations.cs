namespace Analytics.Api.Infrastructure.Caching;

/// <summary>
/// The generations that cached analytics answers embed in their keys. Committed events bump the scopes they
/// change (see <c>AnalyticsCacheInvalidation</c>); a change of age or gender bumps the feature scopes, because
/// those answers filter by them. A bumped scope makes every answer cached under it unreachable at once.
/// </summary>
public sealed class AnalyticsGenerations(ICache cache)
{
    /// <summary>Admin dashboard answers: bumped by registrations, role and status changes, and each rollup run with new data.</summary>
    public const string Dashboard = "dashboard";

    /// <summary>Feature clicks of every user, as admins read them.</summary>
    public const string AllFeatureClicks = "analytics:features:all";

    /// <summary>Events of every API key, as the admin's top clients read them.</summary>
    public const string AllKeyUsage = "analytics:usage:all";

    public static string FeatureClicksOf(Guid userId) => $"analytics:features:user:{userId:N}";

    public static string KeyUsageOf(Guid ownerId) => $"analytics:usage:owner:{ownerId:N}";

    public Task<long> CurrentAsync(string scope, CancellationToken ct) => cache.GetGenerationAsync(scope, ct);

    /// <summary>Bumps every scope in <paramref name="scopes"/> (each once), concurrently.</summary>
    public Task BumpAsync(IEnumerable<string> scopes, CancellationToken ct) =>
        Task.WhenAll(scopes.Distinct(StringComparer.Ordinal).Select(scope => cache.BumpGenerationAsync(scope, ct)));

    /// <summary>After a committed change of <paramref name="userId"/>'s age or gender. Not cancelled: the change is durable.</summary>
    public Task DemographicsChangedAsync(Guid userId) => BumpAsync([FeatureClicksOf(userId), AllFeatureClicks], CancellationToken.None);
}
