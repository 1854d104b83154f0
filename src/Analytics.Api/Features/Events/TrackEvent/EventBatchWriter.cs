using System.Net;
using System.Threading.Channels;
using Analytics.Api.Infrastructure.Messaging;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Events.TrackEvent;

/// <summary>One event ready to store, with everything the server adds.</summary>
public sealed record EventRow(
    Guid Id,
    DateTimeOffset OccurredAt,
    string Type,
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
    TrackedEvent Published);

/// <summary>
/// Group commit for ingestion: callers queue events and wait; a few writer loops each take whatever is queued
/// (up to a batch), store it in one statement and one commit, and only then complete the callers' tasks, so an
/// acknowledged event is durable and many concurrent requests share one commit. Event ids already seen are
/// reported as duplicates and not stored again. Committed events are then published on the event bus.
/// </summary>
public sealed partial class EventBatchWriter : BackgroundService
{
    private const string InsertSql = """
        with incoming as (
            select * from unnest(@Ids, @OccurredAt, @Types, @Names, @UserIds, @ApiKeyIds, @ExternalUserIds, @SessionIds,
                                 @Urls, @Referrers, @Properties::jsonb[], @Ips, @UserAgents, @DeviceTypes, @Browsers, @Oses,
                                 @UtmSources, @UtmMediums, @UtmCampaigns, @UtmTerms, @UtmContents)
                as t(id, occurred_at, type, name, user_id, api_key_id, external_user_id, session_id, url, referrer, properties,
                     ip, user_agent, device_type, browser, os, utm_source, utm_medium, utm_campaign, utm_term, utm_content)
        ), fresh as (
            insert into event_ids (id, received_at) select id, @Now from incoming
            on conflict (id) do nothing
            returning id
        )
        insert into events (id, occurred_at, received_at, type, name, user_id, api_key_id, external_user_id, session_id, url,
                            referrer, properties, ip, user_agent, device_type, browser, os,
                            utm_source, utm_medium, utm_campaign, utm_term, utm_content)
        select i.id, i.occurred_at, @Now, i.type, i.name, i.user_id, i.api_key_id, i.external_user_id, i.session_id, i.url,
               i.referrer, i.properties, i.ip, i.user_agent, i.device_type, i.browser, i.os,
               i.utm_source, i.utm_medium, i.utm_campaign, i.utm_term, i.utm_content
        from incoming i join fresh f on f.id = i.id
        returning id
        """;

    private readonly Channel<Pending> _queue;
    private readonly NpgsqlDataSource _db;
    private readonly IEventBus _bus;
    private readonly TimeProvider _clock;
    private readonly EventsOptions _options;
    private readonly ILogger<EventBatchWriter> _logger;
    private readonly IEventCommitObserver[] _observers;

    public EventBatchWriter(NpgsqlDataSource db, IEventBus bus, IEnumerable<IEventCommitObserver> observers, TimeProvider clock, IOptions<EventsOptions> options, ILogger<EventBatchWriter> logger)
    {
        _db = db;
        _bus = bus;
        _observers = [.. observers];
        _clock = clock;
        _options = options.Value;
        _logger = logger;
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.WriterQueueCapacity) { FullMode = BoundedChannelFullMode.Wait });
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
        await _queue.Writer.WriteAsync(pending, ct);

        // Not cancelled by the caller: once queued, the events are written whether or not anyone waits.
        return await pending.Done.Task;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Math.Max(1, _options.Writers)).Select(_ => RunWriterAsync(stoppingToken)));

    private async Task RunWriterAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(_options.WriterBatchSize);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                var rows = 0;
                while (rows < _options.WriterBatchSize && _queue.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                    rows += item.Rows.Count;
                }

                if (batch.Count > 0)
                {
                    await CommitAsync(batch);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: drain what is queued so no caller waits forever.
            while (_queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count > 0)
            {
                await CommitAsync(batch);
            }
        }
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        var now = _clock.GetUtcNow();
        HashSet<Guid> stored;
        try
        {
            stored = await InsertAsync(batch, now);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            LogCommitFailed(ex, batch.Count);
            foreach (var item in batch)
            {
                item.Done.TrySetException(new EventStoreUnavailableException(ex));
            }

            return;
        }

        var published = new List<TrackedEvent>(stored.Count);
        var results = new bool[batch.Count][];
        for (var i = 0; i < batch.Count; i++)
        {
            var rows = batch[i].Rows;
            results[i] = new bool[rows.Count];
            for (var j = 0; j < rows.Count; j++)
            {
                // The same id twice: only its first occurrence is new.
                results[i][j] = stored.Remove(rows[j].Id);
                if (results[i][j])
                {
                    published.Add(rows[j].Published with { ReceivedAt = now });
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

        if (published.Count > 0)
        {
            try
            {
                await _bus.PublishAsync(TrackedEvent.Topic, published, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPublishFailed(ex, published.Count);
            }
        }
    }

    private async Task<HashSet<Guid>> InsertAsync(List<Pending> batch, DateTimeOffset now)
    {
        // The same id twice in one batch: only its first occurrence can be new.
        var rows = batch.SelectMany(p => p.Rows).DistinctBy(r => r.Id).ToList();
        await using var connection = await _db.OpenConnectionAsync();
        var ids = await connection.QueryAsync<Guid>(new CommandDefinition(
            InsertSql,
            new
            {
                Ids = rows.Select(r => r.Id).ToArray(),
                OccurredAt = rows.Select(r => r.OccurredAt.UtcDateTime).ToArray(),
                Types = rows.Select(r => r.Type).ToArray(),
                Names = rows.Select(r => r.Name).ToArray(),
                UserIds = rows.Select(r => r.UserId).ToArray(),
                ApiKeyIds = rows.Select(r => r.ApiKeyId).ToArray(),
                ExternalUserIds = rows.Select(r => r.ExternalUserId).ToArray(),
                SessionIds = rows.Select(r => r.SessionId).ToArray(),
                Urls = rows.Select(r => r.Url).ToArray(),
                Referrers = rows.Select(r => r.Referrer).ToArray(),
                Properties = rows.Select(r => r.PropertiesJson).ToArray(),
                Ips = rows.Select(r => r.Ip).ToArray(),
                UserAgents = rows.Select(r => r.UserAgent).ToArray(),
                DeviceTypes = rows.Select(r => r.DeviceType).ToArray(),
                Browsers = rows.Select(r => r.Browser).ToArray(),
                Oses = rows.Select(r => r.Os).ToArray(),
                UtmSources = rows.Select(r => r.UtmSource).ToArray(),
                UtmMediums = rows.Select(r => r.UtmMedium).ToArray(),
                UtmCampaigns = rows.Select(r => r.UtmCampaign).ToArray(),
                UtmTerms = rows.Select(r => r.UtmTerm).ToArray(),
                UtmContents = rows.Select(r => r.UtmContent).ToArray(),
                Now = now,
            }));
        return [.. ids];
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing a batch of {Count} events failed; its senders get 503")]
    private partial void LogCommitFailed(Exception exception, int count);

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
