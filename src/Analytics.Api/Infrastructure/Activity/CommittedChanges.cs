using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Caching;

namespace Analytics.Api.Infrastructure.Activity;

/// <summary>
/// What a slice does after committing a change to an account: refresh the caches that describe it (the session
/// gate, the newest activity, analytics filtered by profile). Not cancelled by the caller going away: the change is
/// already durable.
/// </summary>
public sealed class CommittedChanges(SessionGate gate, RecentActivity activity, AnalyticsGenerations analytics)
{
    /// <summary>Users were added, or changed role or status: dashboards counting users are stale.</summary>
    public Task UsersCountedAsync() => analytics.BumpAsync([AnalyticsGenerations.Dashboard], CancellationToken.None);

    public Task ActivityAsync(Guid userId) => activity.ForgetAsync(userId, CancellationToken.None);

    /// <summary>After a change of age or gender: cached analytics filtered by them describe the old profile.</summary>
    public Task DemographicsAsync(Guid userId) => analytics.DemographicsChangedAsync(userId);

    public async Task SessionsAsync(Guid userId, params IEnumerable<Guid> sessionIds)
    {
        ArgumentNullException.ThrowIfNull(sessionIds);
        await gate.RecheckAsync([.. sessionIds], CancellationToken.None);
        await ActivityAsync(userId);
    }

    /// <summary>After a change of role or status; <paramref name="endedSessions"/>: sessions the change revoked.</summary>
    public async Task UserAsync(Guid userId, params IEnumerable<Guid> endedSessions)
    {
        ArgumentNullException.ThrowIfNull(endedSessions);
        await gate.RecheckUserAsync(userId, CancellationToken.None);
        await gate.RecheckAsync([.. endedSessions], CancellationToken.None);
        await ActivityAsync(userId);
        await UsersCountedAsync();
    }
}
