namespace Analytics.Api.Infrastructure.Messaging;

/// <summary>
/// Publish / subscribe of JSON messages by topic, across every node (Redis pub/sub) or within this one (in-process).
/// Delivery is at most once and best effort: the database, not the bus, is the record.
/// </summary>
public interface IEventBus
{
    Task PublishAsync<T>(string topic, T message, CancellationToken ct);

    /// <summary>
    /// Calls <paramref name="handler"/> for each message on <paramref name="topic"/> until the result is disposed. While
    /// <paramref name="interested"/> says no, messages are dropped unread (not even deserialised).
    /// </summary>
    IDisposable Subscribe<T>(string topic, Func<T, Task> handler, Func<bool>? interested = null);
}
