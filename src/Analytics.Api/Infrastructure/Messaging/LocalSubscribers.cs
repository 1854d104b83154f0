using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;

namespace Analytics.Api.Infrastructure.Messaging;

/// <summary>The handlers subscribed on this node, by topic; both bus implementations deliver through it.</summary>
public sealed partial class LocalSubscribers(ILogger<LocalSubscribers> logger)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly ConcurrentDictionary<string, ImmutableList<Func<ReadOnlyMemory<byte>, Task>>> _handlers = new(StringComparer.Ordinal);

    public IDisposable Add<T>(string topic, Func<T, Task> handler, Func<bool>? interested = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Func<ReadOnlyMemory<byte>, Task> raw = payload =>
            interested is null || interested() ? handler(JsonSerializer.Deserialize<T>(payload.Span, Json)!) : Task.CompletedTask;
        _handlers.AddOrUpdate(topic, _ => [raw], (_, list) => list.Add(raw));
        return new Subscription(() => _handlers.AddOrUpdate(topic, _ => [], (_, list) => list.Remove(raw)));
    }

    /// <summary>Runs every handler of <paramref name="topic"/>; one failing handler does not stop the others.</summary>
    public async Task DeliverAsync(string topic, ReadOnlyMemory<byte> payload)
    {
        if (!_handlers.TryGetValue(topic, out var handlers))
        {
            return;
        }

        foreach (var handler in handlers)
        {
            try
            {
                await handler(payload);
            }
            catch (Exception ex)
            {
                LogHandlerFailed(ex, topic);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "An event bus handler for {Topic} failed")]
    private partial void LogHandlerFailed(Exception exception, string topic);

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}

/// <summary>Single-node bus: a publish reaches this node's subscribers only.</summary>
public sealed class InProcessEventBus(LocalSubscribers subscribers) : IEventBus
{
    public Task PublishAsync<T>(string topic, T message, CancellationToken ct) =>
        subscribers.DeliverAsync(topic, JsonSerializer.SerializeToUtf8Bytes(message, LocalSubscribers.Json));

    public IDisposable Subscribe<T>(string topic, Func<T, Task> handler, Func<bool>? interested = null) => subscribers.Add(topic, handler, interested);
}
