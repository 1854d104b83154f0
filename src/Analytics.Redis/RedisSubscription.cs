using System.Threading.Channels;
using Analytics.Redis.Internal;

namespace Analytics.Redis;

/// <summary>
/// A handler attached to a channel or pattern. Messages are queued per subscription and handed to the handler one
/// at a time, in order, off the socket reader. The queue holds <see cref="RedisOptions.SubscriptionQueueCapacity"/>
/// messages; when a slow handler lets it fill up, the oldest messages are dropped and the number dropped is reported
/// through <see cref="RedisClient.ErrorOccurred"/> once the handler takes the next message. Dispose to unsubscribe.
/// </summary>
public sealed class RedisSubscription : IAsyncDisposable
{
    private readonly Channel<RedisMessage> _queue;
    private readonly SubscriptionManager _owner;
    private readonly Func<RedisMessage, Task> _handler;
    private long _droppedSinceReport;
    private long _droppedTotal;
    private int _stopped;

    internal RedisSubscription(
        SubscriptionManager owner, string channel, bool isPattern, Func<RedisMessage, Task> handler, int queueCapacity)
    {
        _owner = owner;
        Channel = channel;
        IsPattern = isPattern;
        _handler = handler;
        _queue = System.Threading.Channels.Channel.CreateBounded<RedisMessage>(
            new BoundedChannelOptions(queueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => OnDropped());
        _ = Task.Run(PumpAsync);
    }

    /// <summary>The channel name, or the glob-style pattern when <see cref="IsPattern"/> is true.</summary>
    public string Channel { get; }

    public bool IsPattern { get; }

    /// <summary>Messages dropped so far because the queue was full.</summary>
    internal long DroppedCount => Interlocked.Read(ref _droppedTotal);

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

    // Runs on the socket reader: only counts. The pump reports, so a burst of drops yields one report.
    private void OnDropped()
    {
        Interlocked.Increment(ref _droppedSinceReport);
        Interlocked.Increment(ref _droppedTotal);
    }

    private async Task PumpAsync()
    {
        await foreach (var message in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (Volatile.Read(ref _stopped) != 0)
            {
                return;
            }

            var dropped = Interlocked.Exchange(ref _droppedSinceReport, 0);
            if (dropped > 0)
            {
                _owner.ReportDropped(this, dropped);
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
