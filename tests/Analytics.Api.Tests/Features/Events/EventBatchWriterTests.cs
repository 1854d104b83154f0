using Analytics.Api.Features.Events;
using Analytics.Api.Features.Events.TrackEvent;
using Analytics.Api.Infrastructure.Messaging;
using Analytics.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Tests.Features.Events;

/// <summary>The group-commit writer on its own, on the test database (its partitions made by a started API).</summary>
public sealed class EventBatchWriterTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    private static EventRow Row(Guid owner, EventType type = EventType.Custom) => new(
        Guid.CreateVersion7(), false, DateTimeOffset.UtcNow, type, "drain", null, owner, owner, null, null, null, null,
        null, null, null, null, null, null, null, null, null, null, null, null);

    [Fact]
    public async Task A_group_that_fails_unexpectedly_fails_its_senders_and_the_lane_goes_on()
    {
        using var _ = _api.CreateClient();
        var writer = new EventBatchWriter(
            _api.Services.GetRequiredService<NpgsqlDataSource>(), new InProcessEventBus(new LocalSubscribers(NullLogger<LocalSubscribers>.Instance)),
            new Watched(), [], TimeProvider.System, Options.Create(new EventsOptions()), NullLogger<EventBatchWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);
        var owner = Guid.NewGuid();

        // A row that nothing maps to the database (what the rules refuse): the writer itself has no answer for it.
        await Should.ThrowAsync<KeyNotFoundException>(writer.WriteAsync([Row(owner, (EventType)5)], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        (await writer.WriteAsync([Row(owner)], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30))).ShouldBe([true]);
        await writer.StopAsync(CancellationToken.None);
        (await database.ScalarAsync<long>("select count(*) from events where api_key_id = @Owner", new { Owner = owner })).ShouldBe(1);
    }

    [Fact]
    public async Task Stopping_commits_and_answers_every_queued_event_in_small_groups_acknowledged_in_order()
    {
        using var _ = _api.CreateClient();
        var bus = new InProcessEventBus(new LocalSubscribers(NullLogger<LocalSubscribers>.Instance));
        var published = new List<Guid>();
        using var subscription = bus.Subscribe<TrackedEvent[]>(TrackedEvent.Topic, events =>
        {
            lock (published)
            {
                published.AddRange(events.Select(e => e.Id));
            }

            return Task.CompletedTask;
        });
        var writer = new EventBatchWriter(
            _api.Services.GetRequiredService<NpgsqlDataSource>(), bus, new Watched(), [], TimeProvider.System,
            Options.Create(new EventsOptions { WriterBatchSize = 25 }), NullLogger<EventBatchWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);
        var owner = Guid.NewGuid();
        var rows = Enumerable.Range(0, 1500).Select(_ => Row(owner)).ToList();

        // Since .NET 10 the loops start on the thread pool after StartAsync returns, and a stop before they start cancels
        // them unrun: one committed event first shows they are running.
        (await writer.WriteAsync([rows[0]], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30))).ShouldBe([true]);

        // Queued one request each; most are still waiting when the host stops.
        var writes = rows.Skip(1).Select(row => writer.WriteAsync([row], CancellationToken.None)).ToList();
        await writer.StopAsync(CancellationToken.None);

        (await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(30))).ShouldAllBe(stored => stored.Single());
        (await database.ScalarAsync<long>("select count(*) from events where api_key_id = @Owner", new { Owner = owner })).ShouldBe(rows.Count);
        lock (published)
        {
            // Live streams learn of every event once, in the order the single writer committed them.
            published.ShouldBe(rows.Select(r => r.Id));
        }
    }

    [Fact]
    public async Task Committed_events_go_on_the_bus_in_messages_of_at_most_a_megabyte()
    {
        using var _ = _api.CreateClient();
        var bus = new InProcessEventBus(new LocalSubscribers(NullLogger<LocalSubscribers>.Instance));
        var messages = new List<(int Bytes, Guid[] Ids)>();
        using var subscription = bus.Subscribe<TrackedEvent[]>(TrackedEvent.Topic, events =>
        {
            lock (messages)
            {
                messages.Add((System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(events, LocalSubscribers.Json).Length, [.. events.Select(e => e.Id)]));
            }

            return Task.CompletedTask;
        });
        var writer = new EventBatchWriter(
            _api.Services.GetRequiredService<NpgsqlDataSource>(), bus, new Watched(), [], TimeProvider.System,
            Options.Create(new EventsOptions()), NullLogger<EventBatchWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);
        var owner = Guid.NewGuid();
        // Non-ASCII text goes on the bus as \u escapes: 120 KB per event, 7.7 MB for 64 of them.
        var properties = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, System.Text.Json.JsonElement>>($$"""{"p":"{{new string('\u00e9', 20_000)}}"}""")!;
        // Stored as TrackEvent writes it.
        var json = System.Text.Json.JsonSerializer.Serialize(properties);
        var rows = Enumerable.Range(0, 64).Select(_ => Row(owner) with { PropertiesJson = json, Properties = properties }).ToList();

        (await writer.WriteAsync(rows, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30))).ShouldAllBe(stored => stored);
        await writer.StopAsync(CancellationToken.None);

        lock (messages)
        {
            messages.SelectMany(m => m.Ids).ShouldBe(rows.Select(r => r.Id));
            messages.ShouldAllBe(m => m.Bytes <= 1 << 20);
            messages.Count.ShouldBeGreaterThan(1);
        }
    }

    private sealed class Watched : ILiveAudience
    {
        public bool AnyoneWatching => true;
    }
}
