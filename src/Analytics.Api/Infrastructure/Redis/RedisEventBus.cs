using System.Text.Json;
using Analytics.Api.Infrastructure.Messaging;
using Analytics.Redis;

namespace Analytics.Api.Infrastructure.Redis;

/// <summary>
/// Cross-node bus over Redis pub/sub: one pattern subscription per node feeds its local subscribers, including
/// for messages this node published. While Redis is down a publish is delivered to this node only (unless it timed
/// out or was lost with its connection after it was handed over: it may still have been sent).
/// </summary>
public sealed class RedisEventBus(RedisLink link, RedisOutage outage, LocalSubscribers subscribers) : IEventBus, IHostedService
{
    private const string Prefix = "bus:";
    private RedisSubscription? _subscription;

    public async Task PublishAsync<T>(string topic, T message, CancellationToken ct)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(message, LocalSubscribers.Json);
        try
        {
            await (await link.ClientAsync()).PublishAsync(Prefix + topic, payload, ct);
            outage.Succeeded();
        }
        catch (Exception ex) when (RedisOutage.IsOutage(ex))
        {
            outage.Failed("event bus", ex);

            // A timed-out PUBLISH, or one lost with its connection after it was handed over, may still reach Redis, and
            // this node would then get the message twice: only a message that certainly was not sent is delivered here
            // (at most once, as the bus promises).
            if (ex is not (TimeoutException or RedisConnectionException { MayHaveExecuted: true }))
            {
                await subscribers.DeliverAsync(topic, payload);
            }
        }
    }

    public IDisposable Subscribe<T>(string topic, Func<T, Task> handler, Func<bool>? interested = null) => subscribers.Add(topic, handler, interested);

    // The client re-subscribes by itself after a reconnect; subscribing while Redis is down still registers.
    public async Task StartAsync(CancellationToken cancellationToken) =>
        _subscription = await (await link.ClientAsync()).SubscribePatternAsync(
            Prefix + "*",
            message => subscribers.DeliverAsync(message.Channel[Prefix.Length..], message.Payload),
            cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null)
        {
            await _subscription.DisposeAsync();
        }
    }
}
