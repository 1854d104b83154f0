using System.Collections.Immutable;
using System.Text.Json;
using System.Threading.Channels;
using Analytics.Api.Features.Reports.Alerts;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.Messaging;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Features.Events.LiveStream;

/// <summary>
/// This node's fan-out of committed events to its live subscribers (SSE streams and hub connections). It subscribes
/// once to the event bus, which carries the events accepted on every node, and hands each event to the subscribers
/// of its audiences: admins, the user it belongs to, the API key that sent it. Newly opened failed-login alerts come
/// the same way and go to admins only, whatever their filter. Every subscriber has a bounded buffer that drops its
/// oldest message when full, so a slow reader skips ahead and never slows ingestion.
/// It also tells every node whether anyone is watching (<see cref="ILiveAudience"/>): a node with subscribers says so
/// on the bus when one subscribes and every <see cref="EventsOptions.LivePresenceInterval"/>; nodes publish their
/// committed events while they have heard so within three intervals (and for three intervals after they start, before
/// they could have heard anyone).
/// A stream authenticates once, when it opens: every <see cref="EventsOptions.LivePresenceInterval"/> each subscriber's
/// access is checked again (the access token not expired; the session still live, same user and role; the API key not
/// revoked, its owner active), and the streams of those who lost it end, so a signed-out, revoked, disabled or demoted
/// viewer, or one whose token expired, stops seeing events.
/// </summary>
public sealed partial class LiveEvents(
    IEventBus bus, SessionGate sessions, ApiKeyDirectory keys, IHostApplicationLifetime lifetime, IOptions<EventsOptions> options, TimeProvider clock, ILogger<LiveEvents> logger)
    : IHostedService, ILiveAudience
{
    /// <summary>The bus topic of "a node has live subscribers".</summary>
    public const string WatchingTopic = "events.watching";

    private readonly Lock _gate = new();
    private ImmutableDictionary<Audience, ImmutableList<LiveSubscription>> _audiences = ImmutableDictionary<Audience, ImmutableList<LiveSubscription>>.Empty;
    private IDisposable? _busSubscription;
    private IDisposable? _alertSubscription;
    private IDisposable? _watchingSubscription;
    private ITimer? _heartbeat;
    private CancellationTokenRegistration _onStopping;
    private bool _stopping;
    private long _watchedUntilTicks;
    private int _intervalRunning;

    private TimeSpan Hold => options.Value.LivePresenceInterval * 3;

    public bool AnyoneWatching => !Volatile.Read(ref _audiences).IsEmpty || clock.GetUtcNow().UtcTicks < Interlocked.Read(ref _watchedUntilTicks);

    /// <summary>
    /// Subscribes <paramref name="viewer"/> (signed in as <paramref name="user"/>, or by API key when that is null) to
    /// the events it may see that match <paramref name="filter"/>, until <paramref name="accessUntil"/> (when its access
    /// token stops being accepted; none for an API key); dispose to leave. Completes once every node has been told that
    /// someone watches.
    /// </summary>
    public async Task<LiveSubscription> SubscribeAsync(Caller viewer, CurrentUser? user, DateTimeOffset? accessUntil, LiveFilter filter)
    {
        var subscription = Subscribe(viewer, user, accessUntil, filter);
        await AnnounceAsync();
        return subscription;
    }

    private LiveSubscription Subscribe(Caller viewer, CurrentUser? user, DateTimeOffset? accessUntil, LiveFilter filter)
    {
        ArgumentNullException.ThrowIfNull(viewer);
        var subscription = new LiveSubscription(this, Audience.Of(viewer), filter, options.Value.LiveBufferSize) { Viewer = viewer, User = user, AccessUntil = accessUntil };
        lock (_gate)
        {
            if (_stopping)
            {
                subscription.Complete();
                return subscription;
            }

            _audiences = _audiences.SetItem(subscription.Audience, _audiences.GetValueOrDefault(subscription.Audience, []).Add(subscription));
        }

        return subscription;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // With nobody watching on this node, the committed events it receives are not even deserialised.
        _busSubscription = bus.Subscribe<List<TrackedEvent>>(TrackedEvent.Topic, Deliver, () => !Volatile.Read(ref _audiences).IsEmpty);
        _alertSubscription = bus.Subscribe<Alert>(Alert.Topic, DeliverAlert);
        _watchingSubscription = bus.Subscribe<Watching>(WatchingTopic, _ =>
        {
            Heard();
            return Task.CompletedTask;
        });
        Heard();
        _heartbeat = clock.CreateTimer(_ => _ = OnIntervalAsync(), null, options.Value.LivePresenceInterval, options.Value.LivePresenceInterval);
        // Open streams would hold a graceful shutdown until its timeout; ending them lets their requests complete.
        _onStopping = lifetime.ApplicationStopping.Register(EndAll);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_heartbeat is not null)
        {
            await _heartbeat.DisposeAsync();
        }

        _busSubscription?.Dispose();
        _alertSubscription?.Dispose();
        _watchingSubscription?.Dispose();
        await _onStopping.DisposeAsync();
        EndAll();
    }

    internal void Remove(LiveSubscription subscription)
    {
        lock (_gate)
        {
            if (_audiences.TryGetValue(subscription.Audience, out var list))
            {
                list = list.Remove(subscription);
                _audiences = list.IsEmpty ? _audiences.Remove(subscription.Audience) : _audiences.SetItem(subscription.Audience, list);
            }
        }
    }

    private void Heard() => Interlocked.Exchange(ref _watchedUntilTicks, (clock.GetUtcNow() + Hold).UtcTicks);

    private async Task OnIntervalAsync()
    {
        if (Volatile.Read(ref _audiences).IsEmpty)
        {
            return;
        }

        // Every interval, whatever the checks below are doing: other nodes stop publishing to this one when it lapses.
        await AnnounceAsync();

        // One run of checks at a time: checks that outlast an interval (many subscribers, the database slow) must not pile up.
        if (Interlocked.Exchange(ref _intervalRunning, 1) == 1)
        {
            return;
        }

        try
        {
            await EndThoseWithoutAccessAsync();
        }
        finally
        {
            Volatile.Write(ref _intervalRunning, 0);
        }
    }

    // One check per subscriber (each node keeps its own copy of the answers for a few seconds). When the check itself
    // fails (PostgreSQL or Redis unreachable) the stream stays open and is checked again at the next interval.
    private async Task EndThoseWithoutAccessAsync()
    {
        var now = clock.GetUtcNow();
        foreach (var subscription in Volatile.Read(ref _audiences).Values.SelectMany(s => s))
        {
            bool allowed;
            try
            {
                // A token's lifetime bounds what it grants: the stream it opened ends when a request with it would be
                // refused (the client reconnects with a fresh one). A signed-in viewer without an expiry (none is
                // accepted) fails closed.
                allowed = subscription.User is { } user
                    ? subscription.AccessUntil is { } until && until > now && await sessions.WhyRejectedAsync(user, CancellationToken.None) is null
                    : subscription.Viewer.ApiKeyId is not { } keyId || await keys.IsLiveAsync(keyId, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRecheckFailed(ex);
                continue;
            }

            if (!allowed)
            {
                Remove(subscription);
                subscription.Complete();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checking the access of live subscribers failed; their streams stay open until the next check")]
    private partial void LogRecheckFailed(Exception exception);

    // Best effort, like the bus: when it fails, other nodes may skip publishing to this node's subscribers until a
    // heartbeat gets through.
    private async Task AnnounceAsync()
    {
        try
        {
            await bus.PublishAsync(WatchingTopic, new Watching(), CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAnnounceFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telling the other nodes that this one has live subscribers failed")]
    private partial void LogAnnounceFailed(Exception exception);

    private sealed record Watching;

    // Runs on the bus's delivery loop: only non-blocking writes into the subscribers' buffers.
    private Task Deliver(List<TrackedEvent> events)
    {
        var audiences = Volatile.Read(ref _audiences);
        if (audiences.IsEmpty)
        {
            return Task.CompletedTask;
        }

        foreach (var e in events)
        {
            var message = new LiveMessage(LiveMessage.Event, e);
            Offer(audiences, Audience.Admins, message);
            if (e.UserId is { } userId)
            {
                Offer(audiences, new Audience(AudienceKind.User, userId), message);
            }

            if (e.ApiKeyId is { } keyId)
            {
                Offer(audiences, new Audience(AudienceKind.ApiKey, keyId), message);
            }
        }

        return Task.CompletedTask;
    }

    private Task DeliverAlert(Alert alert)
    {
        Offer(Volatile.Read(ref _audiences), Audience.Admins, new LiveMessage(LiveMessage.Alert, alert));
        return Task.CompletedTask;
    }

    private static void Offer(ImmutableDictionary<Audience, ImmutableList<LiveSubscription>> audiences, Audience audience, LiveMessage message)
    {
        if (audiences.TryGetValue(audience, out var subscribers))
        {
            foreach (var subscriber in subscribers)
            {
                subscriber.Offer(message);
            }
        }
    }

    private void EndAll()
    {
        ImmutableDictionary<Audience, ImmutableList<LiveSubscription>> ended;
        lock (_gate)
        {
            _stopping = true;
            ended = _audiences;
            _audiences = ImmutableDictionary<Audience, ImmutableList<LiveSubscription>>.Empty;
        }

        foreach (var subscription in ended.Values.SelectMany(s => s))
        {
            subscription.Complete();
        }
    }
}

/// <summary>
/// What a live subscriber receives: <paramref name="Name"/> is the SSE event name and the hub method (<c>event</c> for a
/// <see cref="TrackedEvent"/>, <c>alert</c> for an <see cref="Reports.Alerts.Alert"/>), <paramref name="Payload"/> its JSON.
/// </summary>
public sealed record LiveMessage(string Name, object Payload)
{
    public const string Event = "event";
    public const string Alert = "alert";
}

/// <summary>One live subscriber's view: its buffered messages, oldest first, until it is disposed or the node stops.</summary>
public sealed class LiveSubscription : IDisposable
{
    private readonly LiveEvents _owner;
    private readonly Channel<LiveMessage> _messages;

    internal LiveSubscription(LiveEvents owner, Audience audience, LiveFilter filter, int capacity)
    {
        _owner = owner;
        Audience = audience;
        Filter = filter;
        _messages = Channel.CreateBounded<LiveMessage>(new BoundedChannelOptions(Math.Max(1, capacity))
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
    }

    public LiveFilter Filter { get; }

    /// <summary>Who subscribed; <see cref="User"/> when signed in (its session is checked again), else an API key.</summary>
    internal Caller Viewer { get; init; } = null!;

    internal CurrentUser? User { get; init; }

    /// <summary>Until when the access token that opened the stream is accepted (null for an API key, which does not expire).</summary>
    internal DateTimeOffset? AccessUntil { get; init; }

    /// <summary>Completes when the subscription ends: left, the node stopping, or the viewer's access ended.</summary>
    public ChannelReader<LiveMessage> Messages => _messages.Reader;

    internal Audience Audience { get; }

    public void Dispose()
    {
        _owner.Remove(this);
        Complete();
    }

    // The filter narrows events; alerts are not events and reach every admin subscriber.
    internal void Offer(LiveMessage message)
    {
        if (message.Payload is not TrackedEvent e || Filter.Matches(e))
        {
            _messages.Writer.TryWrite(message);
        }
    }

    internal void Complete() => _messages.Writer.TryComplete();
}

/// <summary>Which events a subscriber wants: of one type, with one name, or both; null matches anything.</summary>
public sealed record LiveFilter(EventType? Type, string? Name)
{
    public static readonly LiveFilter Everything = new(null, null);

    public bool Matches(TrackedEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return (Type is null || e.Type == Type) && (Name is null || string.Equals(e.Name, Name, StringComparison.Ordinal));
    }

    /// <summary>Reads an event type as clients write it (<c>page_view</c>).</summary>
    public static bool TryParseType(string value, out EventType type)
    {
        foreach (var candidate in Enum.GetValues<EventType>())
        {
            if (string.Equals(JsonNamingPolicy.SnakeCaseLower.ConvertName(candidate.ToString()), value, StringComparison.Ordinal))
            {
                type = candidate;
                return true;
            }
        }

        type = default;
        return false;
    }
}

internal enum AudienceKind
{
    Admins,
    User,
    ApiKey,
}

/// <summary>Who an event is shown to: every admin, the user it belongs to, the API key that sent it.</summary>
internal readonly record struct Audience(AudienceKind Kind, Guid Id)
{
    public static readonly Audience Admins = new(AudienceKind.Admins, Guid.Empty);

    public static Audience Of(Caller viewer) => viewer switch
    {
        { IsAdmin: true } => Admins,
        { ApiKeyId: { } keyId } => new Audience(AudienceKind.ApiKey, keyId),
        { UserId: { } userId } => new Audience(AudienceKind.User, userId),
        _ => throw new InvalidOperationException("A caller that is neither a user nor an API key."),
    };
}
