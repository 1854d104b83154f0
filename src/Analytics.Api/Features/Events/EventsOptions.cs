namespace Analytics.Api.Features.Events;

public sealed class EventsOptions
{
    public const string Section = "Events";

    public int MaxBatchSize { get; set; } = 1000;

    public int MaxPropertyCount { get; set; } = 50;

    public int MaxPropertyKeyLength { get; set; } = 64;

    /// <summary>Longest string value of a property; numbers, booleans and null are always allowed.</summary>
    public int MaxPropertyValueLength { get; set; } = 1024;

    /// <summary>Sustained events per second per API key, shared by all nodes; over it, 429.</summary>
    public double ApiKeyRatePerSecond { get; set; } = 1000;

    /// <summary>Events an API key may send at once above the sustained rate.</summary>
    public int ApiKeyBurst { get; set; } = 2000;

    /// <summary>Sustained events per second per signed-in user sending with their access token (not an API key); over it, 429.</summary>
    public double UserRatePerSecond { get; set; } = 50;

    /// <summary>Events a signed-in user may send at once above the sustained rate.</summary>
    public int UserBurst { get; set; } = 1000;

    /// <summary>API keys a user may hold at once (revoked ones do not count); one more is 409.</summary>
    public int MaxApiKeysPerUser { get; set; } = 20;

    /// <summary>Events the writer commits in one transaction at most.</summary>
    public int WriterBatchSize { get; set; } = 2000;

    /// <summary>Concurrent commits for batch requests; each groups whatever arrived meanwhile. Requests of a few events have one writer of their own.</summary>
    public int Writers { get; set; } = 2;

    /// <summary>
    /// Batch requests read and processed at once; more wait (unread) in line. Batches are CPU-bound, so more at once
    /// would not ingest faster, only hold more events in memory. 0 means 4 per core.
    /// </summary>
    public int MaxConcurrentBatches { get; set; }

    /// <summary>Batch requests that may wait for their turn; beyond it, 503 with Retry-After.</summary>
    public int BatchQueueLimit { get; set; } = 10_000;

    /// <summary>Requests queued for the writers before senders wait, per lane (single events, batches).</summary>
    public int WriterQueueCapacity { get; set; } = 10_000;

    /// <summary>Events buffered per live subscriber; one that falls further behind loses its oldest.</summary>
    public int LiveBufferSize { get; set; } = 1000;

    /// <summary>Silence after which an SSE stream gets a keep-alive comment, so proxies keep it open.</summary>
    public TimeSpan LiveHeartbeat { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often a node with live subscribers tells the others. Nodes publish committed events for the live streams
    /// only while one has said so within three of these (and for that long after they start).
    /// </summary>
    public TimeSpan LivePresenceInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Whether any node has live subscribers: committed events are published to the live streams only then.</summary>
public interface ILiveAudience
{
    bool AnyoneWatching { get; }
}

public enum EventType
{
    PageView,
    Click,
    FeatureClick,
    Login,
    Custom,
}

/// <summary>An accepted event, as the live stream and caches learn of it after its commit.</summary>
public sealed record TrackedEvent(
    Guid Id,
    EventType Type,
    string? Name,
    DateTimeOffset OccurredAt,
    DateTimeOffset ReceivedAt,
    Guid? UserId,
    Guid? ApiKeyId,
    Guid OwnerId,
    string? ExternalUserId,
    string? SessionId,
    string? Url,
    string? Referrer,
    IReadOnlyDictionary<string, System.Text.Json.JsonElement>? Properties)
{
    public const string Topic = "events";
}
