using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Analytics.Api.Infrastructure.Errors;
using Analytics.Api.Infrastructure.Messaging;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Events.TrackEvent;

/// <summary>One event ready to store, with everything the server adds.</summary>
public sealed record EventRow(
    Guid Id,
    bool IdFromClient,
    DateTimeOffset OccurredAt,
    EventType Type,
    string? Name,
    Guid? UserId,
    Guid? ApiKeyId,
    Guid OwnerId,
    string? ExternalUserId,
    string? SessionId,
    string? Url,
    string? Referrer,
    string? PropertiesJson,
    IPAddress? Ip,
    string? UserAgent,
    string? DeviceType,
    string? Browser,
    string? Os,
    string? UtmSource,
    string? UtmMedium,
    string? UtmCampaign,
    string? UtmTerm,
    string? UtmContent,
    IReadOnlyDictionary<string, JsonElement>? Properties)
{
    private static readonly Dictionary<EventType, string> StoredTypes =
        Enum.GetValues<EventType>().ToDictionary(t => t, t => JsonNamingPolicy.SnakeCaseLower.ConvertName(t.ToString()));

    /// <summary>The type as the events table spells it (<c>page_view</c>, <c>feature_click</c>...).</summary>
    public string StoredType => Stored(Type);

    /// <summary><paramref name="type"/> as the events table spells it.</summary>
    public static string Stored(EventType type) => StoredTypes[type];

    /// <summary>The columns <see cref="EventCopy"/> writes, in its order: a binary COPY into events or a table shaped like it.</summary>
    public const string CopyColumns = """
        id, occurred_at, received_at, type, name, user_id, api_key_id, external_user_id, session_id, url,
        referrer, properties, ip, user_agent, device_type, browser, os, utm_source, utm_medium, utm_campaign, utm_term, utm_content
        """;

    /// <summary>
    /// At least as many bytes as the event's JSON on the bus: every character of its texts counted as a \u escape
    /// (6 bytes), its properties as the JSON they are stored as (written with the same escapes), plus the fixed-size
    /// fields.
    /// </summary>
    public long BusBytes => 512 + (PropertiesJson?.Length ?? 0) + (6L * ((Name?.Length ?? 0) + (ExternalUserId?.Length ?? 0) + (SessionId?.Length ?? 0) + (Url?.Length ?? 0) + (Referrer?.Length ?? 0)));

    /// <summary>What makes an event a retry of another: the same id from the same sender.</summary>
    public (Guid Owner, Guid Id) Key => (OwnerId, Id);

    /// <summary>The event as live streams and caches learn of it once committed.</summary>
    public TrackedEvent Tracked(DateTimeOffset receivedAt) =>
        new(Id, Type, Name, OccurredAt, receivedAt, UserId, ApiKeyId, OwnerId, ExternalUserId, SessionId, Url, Referrer, Properties);
}

/// <summary>
/// Group commit for ingestion: callers queue events and wait; writer loops each take whatever is queued (up to a
/// batch), store it in one transaction and one commit, and only then complete the callers' tasks, so an
/// acknowledged event is durable and many concurrent requests share one commit. Event ids already seen are
/// reported as duplicates and not stored again. Committed events are then published on the event bus, while some
/// node has live subscribers.
/// Two lanes: requests of a few events queue for one writer, so that they gather into groups as large as the
/// previous commit's duration allows (each commit has a fixed cost in PostgreSQL, Redis and here; a second writer
/// halved the groups and cost ~9 % of single-event throughput); batch requests queue for <see cref="EventsOptions.Writers"/>
/// writers, whose COPYs of hundreds of rows each keep more than one core busy.
/// </summary>
public sealed partial class EventBatchWriter : BackgroundService
{
    // Client-chosen ids are claimed first (a narrow insert that skips ids stored before), then the new events go in
    // by binary COPY, both in one transaction: far cheaper per event than a wide INSERT ... SELECT from arrays.
    // Ids are claimed per sender (migration 0018); one claimed before senders were recorded still counts for anyone.
    private const string ClaimIdsSql = """
        insert into event_ids (owner_id, id, received_at)
        select c.owner_id, c.id, @Now from unnest(@Owners, @Ids) as c (owner_id, id)
        where not exists (select 1 from event_ids l where l.owner_id is null and l.id = c.id)
        on conflict do nothing
        returning owner_id, id
        """;

    private const string CopySql = $"copy events ({EventRow.CopyColumns}) from stdin (format binary)";

    private const int PublishChunk = 64;

    // Redis drops a subscriber whose unread pub/sub output passes 32 MB (or 8 MB for a minute), and with it every bus
    // message of that node (revocations, alerts, presence): 64 events of maximal non-ASCII properties were ~19 MB.
    private const long PublishBytes = 1 << 20;

    /// <summary>Requests with at least this many events go to the batch lane.</summary>
    private const int BatchLaneRows = 50;

    private readonly Channel<Pending> _small;
    private readonly Channel<Pending> _large;
    private readonly NpgsqlDataSource _db;
    private readonly IEventBus _bus;
    private readonly TimeProvider _clock;
    private readonly EventsOptions _options;
    private readonly ILogger<EventBatchWriter> _logger;
    private readonly IEventCommitObserver[] _observers;
    private readonly ILiveAudience _live;

    public EventBatchWriter(NpgsqlDataSource db, IEventBus bus, ILiveAudience live, IEnumerable<IEventCommitObserver> observers, TimeProvider clock, IOptions<EventsOptions> options, ILogger<EventBatchWriter> logger)
    {
        _db = db;
        _bus = bus;
        _live = live;
        _observers = [.. observers];
        _clock = clock;
        _options = options.Value;
        _logger = logger;
        _small = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.WriterQueueCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        _large = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.WriterQueueCapacity) { FullMode = BoundedChannelFullMode.Wait });
    }

    /// <summary>Per row, true when stored and false when its id was stored before; throws when the commit failed.</summary>
    public async Task<IReadOnlyList<bool>> WriteAsync(IReadOnlyList<EventRow> rows, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return [];
        }

        // One queue item per request: a request's rows are committed together, in one batch.
        var pending = new Pending(rows);
        await (rows.Count < BatchLaneRows ? _small : _large).Writer.WriteAsync(pending, ct);

        // Not cancelled by the caller: once queued, the events are written whether or not anyone waits.
        return await pending.Done.Task;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Math.Max(1, _options.Writers)).Select(_ => RunWriterAsync(_large.Reader, stoppingToken)).Append(RunWriterAsync(_small.Reader, stoppingToken)));

    private async Task RunWriterAsync(ChannelReader<Pending> queue, CancellationToken stoppingToken)
    {
        // Each committed group is acknowledged (cache bump, 202s, live streams) while this loop already stores the
        // next one. At most one acknowledgement runs at a time, in commit order.
        var acknowledged = Task.CompletedTask;
        try
        {
            while (await queue.WaitToReadAsync(stoppingToken))
            {
                var batch = new List<Pending>();
                var rows = 0;
                while (rows < _options.WriterBatchSize && queue.TryRead(out var item))
                {
                    batch.Add(item);
                    rows += item.Rows.Count;
                }

                if (batch.Count > 0)
                {
                    acknowledged = await CommitAsync(batch, acknowledged);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: drain what is queued so no caller waits forever (the last group is committed already).
            var batch = new List<Pending>();
            while (queue.TryRead(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count > 0)
            {
                acknowledged = await CommitAsync(batch, acknowledged);
            }
        }

        await acknowledged;
    }

    /// <summary>Stores the group, waits for the previous group's acknowledgement and returns this one's, started.</summary>
    private async Task<Task> CommitAsync(List<Pending> batch, Task previous, bool eventByEvent = false)
    {
        var now = _clock.GetUtcNow();
        HashSet<(Guid Owner, Guid Id)> stored;
        try
        {
            stored = await InsertAsync(batch, now, eventByEvent);
        }
        catch (Exception ex) when (batch.Count > 1 && (UnstorableValue.Cause(ex) is not null || IsTaken(ex)))
        {
            // A value that PostgreSQL refuses, or an id and time stored already, fails the group's one COPY, and with it
            // every request in the group: store each request on its own instead, so that only the one that sent it is
            // affected, and the others are committed and acknowledged in order.
            foreach (var item in batch)
            {
                previous = await CommitAsync([item], previous);
            }

            return previous;
        }
        catch (Exception ex) when (!eventByEvent && IsTaken(ex))
        {
            // An event with the id and time of one stored already: a server-assigned id sent back as the client's own
            // (an SDK replaying what it sent). Those ids are not claimed in event_ids (ADR 9); the event is a duplicate,
            // as a retried client id is.
            return await CommitAsync(batch, previous, eventByEvent: true);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // A value PostgreSQL refuses is the request's own fault (400); anything else is the store's (503).
            var refused = UnstorableValue.Cause(ex);
            if (refused is null)
            {
                LogCommitFailed(ex, batch.Count);
            }

            foreach (var item in batch)
            {
                item.Done.TrySetException(refused ?? (Exception)new EventStoreUnavailableException(ex));
            }

            return previous;
        }
        catch (Exception ex)
        {
            // Anything else is a defect here (an event the rules let through that cannot be written): its senders get
            // the exception (a logged 500), and this lane goes on with the next group instead of ending with it, which
            // would leave every later sender of the lane waiting for ever.
            LogCommitDefect(ex, batch.Count);
            foreach (var item in batch)
            {
                item.Done.TrySetException(ex);
            }

            return previous;
        }

        await previous;
        return AcknowledgeAsync(batch, stored, now);
    }

    private static bool IsTaken(Exception exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    private async Task AcknowledgeAsync(List<Pending> batch, HashSet<(Guid Owner, Guid Id)> stored, DateTimeOffset now)
    {
        var published = new List<TrackedEvent>(stored.Count);
        // The sizes that cut bus messages, only when there will be messages (most commits have no one watching).
        var publishedBytes = _live.AnyoneWatching ? new List<long>(stored.Count) : null;
        var results = new bool[batch.Count][];
        for (var i = 0; i < batch.Count; i++)
        {
            var rows = batch[i].Rows;
            results[i] = new bool[rows.Count];
            for (var j = 0; j < rows.Count; j++)
            {
                // The same id twice: only its first occurrence is new.
                results[i][j] = stored.Remove(rows[j].Key);
                if (results[i][j])
                {
                    published.Add(rows[j].Tracked(now));
                    publishedBytes?.Add(rows[j].BusBytes);
                }
            }
        }

        // Before acknowledging: a cache that depends on these events must be stale by the time the 202 arrives.
        foreach (var observer in _observers)
        {
            try
            {
                await observer.OnCommittedAsync(published, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogObserverFailed(ex, observer.GetType().Name);
            }
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(results[i]);
        }

        // Only while some node has live subscribers: serialising and sending every event cost single-event ingestion
        // 5-19 % of its throughput (bench/RESULTS.md, tenth session). In messages of a few dozen events: a whole group
        // in one message would be a large-object-heap array on every node (serialised here, received back by each
        // subscriber), and those force full collections.
        foreach (var (start, count) in publishedBytes is null ? [] : Messages(publishedBytes, PublishChunk, PublishBytes))
        {
            try
            {
                await _bus.PublishAsync(TrackedEvent.Topic, published.GetRange(start, count), CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPublishFailed(ex, count);
            }
        }
    }

    /// <summary>
    /// Consecutive runs of events, each of at most <paramref name="maxEvents"/> and (but for a single larger event)
    /// <paramref name="maxBytes"/>, given each event's size.
    /// </summary>
    internal static IEnumerable<(int Start, int Count)> Messages(IReadOnlyList<long> sizes, int maxEvents, long maxBytes)
    {
        var start = 0;
        var bytes = 0L;
        for (var i = 0; i < sizes.Count; i++)
        {
            if (i > start && (i - start == maxEvents || bytes + sizes[i] > maxBytes))
            {
                yield return (start, i - start);
                (start, bytes) = (i, 0);
            }

            bytes += sizes[i];
        }

        if (sizes.Count > start)
        {
            yield return (start, sizes.Count - start);
        }
    }

    private async Task<HashSet<(Guid Owner, Guid Id)>> InsertAsync(List<Pending> batch, DateTimeOffset now, bool eventByEvent)
    {
        // Only ids a client chose can come again (a retry); the server's own are new UUIDv7s and skip event_ids.
        var claimed = batch.SelectMany(item => item.Rows).Where(row => row.IdFromClient).ToArray();
        await using var connection = await _db.OpenConnectionAsync();
        // A COPY alone commits atomically by itself; with ids to claim first, or event by event, all go in one transaction.
        await using var transaction = claimed.Length == 0 && !eventByEvent ? null : await connection.BeginTransactionAsync();
        var fresh = claimed.Length == 0
            ? []
            : (await connection.QueryAsync<(Guid, Guid)>(new CommandDefinition(ClaimIdsSql, new { Owners = claimed.Select(r => r.OwnerId).ToArray(), Ids = claimed.Select(r => r.Id).ToArray(), Now = now }, transaction))).ToHashSet();
        var stored = new HashSet<(Guid Owner, Guid Id)>();
        // The same id twice from one sender in one batch: only its first occurrence is new.
        var rows = batch.SelectMany(item => item.Rows).Where(row => (!row.IdFromClient || fresh.Contains(row.Key)) && stored.Add(row.Key)).ToList();
        if (eventByEvent)
        {
            // Each event in a COPY of its own behind a savepoint: one whose id and time are stored already is skipped.
            foreach (var row in rows)
            {
                await transaction!.SaveAsync("event");
                try
                {
                    await CopyAsync([row], connection, now);
                }
                catch (Exception ex) when (IsTaken(ex))
                {
                    await transaction.RollbackAsync("event");
                    stored.Remove(row.Key);
                }
            }
        }
        else
        {
            await CopyAsync(rows, connection, now);
        }

        if (transaction is not null)
        {
            await transaction.CommitAsync();
        }
        return stored;
    }

    private static Task CopyAsync(List<EventRow> rows, NpgsqlConnection connection, DateTimeOffset now) =>
        EventCopy.WriteAsync(connection, CopySql, rows, now);

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing a batch of {Count} events failed; its senders get 503")]
    private partial void LogCommitFailed(Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing a batch of {Count} events failed unexpectedly; its senders get 500")]
    private partial void LogCommitDefect(Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Observer} failed after an event commit")]
    private partial void LogObserverFailed(Exception exception, string observer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing {Count} committed events to live streams failed")]
    private partial void LogPublishFailed(Exception exception, int count);

    private sealed class Pending(IReadOnlyList<EventRow> rows)
    {
        public IReadOnlyList<EventRow> Rows { get; } = rows;

        public TaskCompletionSource<bool[]> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>
/// Told of every committed batch (only the newly stored events) before its senders are acknowledged: for caches
/// and counters that must reflect an event by the time its 202 arrives. Must be quick; failures are logged.
/// </summary>
public interface IEventCommitObserver
{
    Task OnCommittedAsync(IReadOnlyList<TrackedEvent> events, CancellationToken ct);
}

/// <summary>The events could not be committed (PostgreSQL unreachable or failing): nothing was stored, retry later.</summary>
public sealed class EventStoreUnavailableException(Exception inner) : Exception("The event store is unavailable; the events were not stored.", inner);
