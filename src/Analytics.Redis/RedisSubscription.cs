using System.Threading.Channels;
using Analytics.Redis.Internal;

namespace Analytics.Redis;

/// <summary>
/// A handler attached to a channel or pattern. Messages are queued per subscription and handed to the handler one
/// at a time, in order, off the socket reader. Dispose to unsubscribe.
/// </summary>
public sealed class RedisSubscription : IAsyncDisposable
{
    private readonly Channel<RedisMessage> _queue =
        System.Threading.Channels.Channel.CreateUnbounded<RedisMessage>(new UnboundedChannelOptions { SingleReader = true });

    private readonly SubscriptionManager _owner;
    private readonly Func<RedisMessage, Task> _handler;
    private int _stopped;

    internal RedisSubscription(SubscriptionManager owner, string channel, bool isPattern, Func<RedisMessage, Task> handler)
    {
        _owner = owner;
        Channel = channel;
        IsPattern = isPattern;
        _handler = handler;
        _ = Task.Run(PumpAsync);
    }

    /// <summary>The channel name, or the glob-style pattern when <see cref="IsPattern"/> is true.</summary>
    public string Channel { get; }

    public bool IsPattern { get; }

    /// <summary>Stops delivery and unsubscribes; messages still queued are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Stop())
        {
            await _owner.RemoveAsync(this).ConfigureAwait(false);
        }
    }

    internal void Deliver(RedisMessage message) => _queue.Writer.TryWrite(message);

    /// <summary>Ends delivery; returns false if it had already ended.</summary>
    internal bool Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return false;
        }

        _queue.Writer.TryComplete();
        return true;
    }

    private async Task PumpAsync()
    {
        await foreach (var message in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (Volatile.Read(ref _stopped) != 0)
            {
                return;
            }

            try
            {
                await _handler(message).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The handler's failure must not end delivery of later messages.
                _owner.ReportHandlerError(this, ex);
            }
        }
    }
}
