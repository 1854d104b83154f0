namespace Analytics.Redis;

public sealed partial class RedisClient
{
    /// <summary>
    /// Subscribes <paramref name="handler"/> to a channel. The subscription lives until disposed and is renewed
    /// after every reconnect. If Redis is unreachable the subscription is still registered and becomes active
    /// once the subscriber connection is established.
    /// The handler is called once per message, one message at a time, on the thread pool.
    /// </summary>
    public Task<RedisSubscription> SubscribeAsync(
        string channel, Func<RedisMessage, Task> handler, CancellationToken cancellationToken = default) =>
        SubscribeCoreAsync(channel, isPattern: false, handler, cancellationToken);

    /// <summary>Like <see cref="SubscribeAsync"/> for a glob-style pattern (PSUBSCRIBE), e.g. <c>events:*</c>.</summary>
    public Task<RedisSubscription> SubscribePatternAsync(
        string pattern, Func<RedisMessage, Task> handler, CancellationToken cancellationToken = default) =>
        SubscribeCoreAsync(pattern, isPattern: true, handler, cancellationToken);

    private async Task<RedisSubscription> SubscribeCoreAsync(
        string channel, bool isPattern, Func<RedisMessage, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(handler);
        await EnsureSubscriberStartedAsync(cancellationToken).ConfigureAwait(false);
        return await _subscriptions.AddAsync(channel, isPattern, handler, cancellationToken).ConfigureAwait(false);
    }
}
