using Analytics.Api.Features.Events;
using Analytics.Api.Infrastructure.Messaging;
using Analytics.Api.Infrastructure.Redis;
using Analytics.Api.Tests.Infrastructure;
using Analytics.Api.Tests.Infrastructure.Jobs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Analytics.Api.Tests.Features.Events.LiveStreamTests;

namespace Analytics.Api.Tests.Features.Events;

/// <summary>
/// Nodes publish committed events for the live streams only while some node has live subscribers. Runs alone: a live
/// subscriber of any other test on the same Redis would count as someone watching. What goes on the bus is read the way
/// every node reads it, by a subscription of its own to the bus on Redis.
/// </summary>
[Collection(typeof(RunsAlone))]
public sealed class LivePresenceTests(TestDatabase database) : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    // Heartbeats every 200 ms: a node counts someone as watching for 600 ms after it last heard so (or started).
    private static readonly Dictionary<string, string?> Settings = new() { ["Events:LivePresenceInterval"] = "00:00:00.200" };
    private static readonly TimeSpan PastTheHold = TimeSpan.FromMilliseconds(1500);

    private readonly ApiFactory _accepting = new(database, Settings);
    private readonly ApiFactory _watching = new(database, Settings);

    public async ValueTask DisposeAsync()
    {
        await _accepting.DisposeAsync();
        await _watching.DisposeAsync();
    }

    [Fact]
    public async Task Committed_events_go_on_the_bus_only_while_a_node_has_live_subscribers()
    {
        await using var bus = await BusTap.StartAsync();
        var accepting = _accepting.CreateClient();
        var watching = _watching.CreateClient();
        var user = await accepting.SignUpAsync(database);
        // Both nodes have started and assumed for a while that someone might watch; nobody does.
        await Task.Delay(PastTheHold);

        var unwatched = await PostViewAsync();
        await using (var stream = await WatchAfterAsync(unwatched))
        {
            // Heartbeats keep the accepting node publishing for as long as the subscriber stays.
            await Task.Delay(PastTheHold);
            var later = await PostViewAsync();
            await stream.ReadUntilAsync(later).WaitAsync(Patience);
        }

        // Nobody watches any more: once the last heartbeat is older than the hold, the accepting node stops again.
        await Task.Delay(PastTheHold);
        var afterwards = await PostViewAsync();
        await using var again = await WatchAfterAsync(afterwards);

        async Task<Guid> PostViewAsync()
        {
            var id = Guid.NewGuid();
            await PostAsync(accepting, user.AccessToken, new { id, type = "page_view" });
            return id;
        }

        // Subscribes on the watching node, then shows by the next event that the one posted before never went on the
        // bus: the subscriber is told it is subscribed once the accepting node can know, so the next event reaches it
        // (and only it), and the bus carries one node's events in commit order, so had the first gone out, it would
        // be there by now.
        async Task<SseSubscriber> WatchAfterAsync(Guid unwatched)
        {
            var stream = await SseSubscriber.OpenAsync(watching, "/api/v1/events/stream", user.AccessToken);
            var next = await PostViewAsync();
            (await stream.ReadUntilAsync(next).WaitAsync(Patience)).Select(e => e.GetProperty("id").GetGuid()).ShouldBe([next]);
            await bus.WaitForAsync(next);
            bus.Seen(unwatched).ShouldBeFalse();
            return stream;
        }
    }

    /// <summary>The committed events on the bus, as any node receives them.</summary>
    private sealed class BusTap : IAsyncDisposable
    {
        private readonly RedisLink _link = new(Options.Create(new RedisStoreOptions { ConnectionString = TestRedis.ConnectionString }));
        private readonly RedisEventBus _bus;
        private readonly HashSet<Guid> _seen = [];
        private IDisposable? _subscription;

        private BusTap() => _bus = new RedisEventBus(_link, new RedisOutage(NullLogger<RedisOutage>.Instance), new LocalSubscribers(NullLogger<LocalSubscribers>.Instance));

        public static async Task<BusTap> StartAsync()
        {
            var tap = new BusTap();
            await tap._bus.StartAsync(CancellationToken.None);
            tap._subscription = tap._bus.Subscribe<List<TrackedEvent>>(TrackedEvent.Topic, events =>
            {
                lock (tap._seen)
                {
                    tap._seen.UnionWith(events.Select(e => e.Id));
                }

                return Task.CompletedTask;
            });
            return tap;
        }

        public bool Seen(Guid id)
        {
            lock (_seen)
            {
                return _seen.Contains(id);
            }
        }

        public async Task WaitForAsync(Guid id)
        {
            var until = DateTime.UtcNow + Patience;
            while (!Seen(id))
            {
                DateTime.UtcNow.ShouldBeLessThan(until, $"event {id} did not come on the bus");
                await Task.Delay(20);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _subscription?.Dispose();
            await _bus.StopAsync(CancellationToken.None);
            await _link.DisposeAsync();
        }
    }
}
