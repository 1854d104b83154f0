using Analytics.Api.Features.Events;
using Analytics.Api.Features.Events.TrackEvent;
using Analytics.Api.Infrastructure.Caching;

namespace Analytics.Api.Features.Analytics;

/// <summary>
/// Makes cached analytics answers stale as soon as a batch of events commits, before its senders get their 202:
/// feature clicks bump their user's and the all-users feature generations, events sent by API keys bump their
/// owner's and the all-keys usage generations.
/// </summary>
public sealed class AnalyticsCacheInvalidation(AnalyticsGenerations generations) : IEventCommitObserver
{
    public Task OnCommittedAsync(IReadOnlyList<TrackedEvent> events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        // A batch holds many events of the same few users and keys: each scope once.
        var scopes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (e.Type == EventType.FeatureClick)
            {
                scopes.Add(AnalyticsGenerations.AllFeatureClicks);
                if (e.UserId is { } userId)
                {
                    scopes.Add(AnalyticsGenerations.FeatureClicksOf(userId));
                }
            }

            if (e.ApiKeyId is not null)
            {
                scopes.Add(AnalyticsGenerations.AllKeyUsage);
                scopes.Add(AnalyticsGenerations.KeyUsageOf(e.OwnerId));
            }
        }

        return scopes.Count == 0 ? Task.CompletedTask : generations.BumpAsync(scopes, ct);
    }
}
