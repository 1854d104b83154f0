namespace Analytics.Redis.Internal;

/// <summary>
/// Registry of the subscriptions of one client. It survives reconnects: every new subscriber connection gets
/// SUBSCRIBE/PSUBSCRIBE for everything registered. Registry changes and the matching commands are issued under one
/// lock, so a concurrent subscribe and unsubscribe of the same channel reach the server in registry order.
/// </summary>
internal sealed class SubscriptionManager(
    Action<RedisErrorEventArgs> reportError, Func<RedisConnection?> currentConnection, int queueCapacity)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, RedisSubscription[]> _channels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RedisSubscription[]> _patterns = new(StringComparer.Ordinal);
    private bool _stopped;

    public async Task<RedisSubscription> AddAsync(
        string channel, bool isPattern, Func<RedisMessage, Task> handler, CancellationToken cancellationToken)
    {
        var subscription = new RedisSubscription(this, channel, isPattern, handler, queueCapacity);
        ValueTask confirmation;
        lock (_lock)
        {
            if (_stopped)
            {
                // The client was disposed while this subscription was being made: it must not keep running.
                subscription.Stop();
                throw new ObjectDisposedException(nameof(RedisClient));
            }

            var registry = isPattern ? _patterns : _channels;
            registry[channel] = registry.TryGetValue(channel, out var existing) ? [.. existing, subscription] : [subscription];

            // Sent even when the channel is already subscribed: cheap, and the caller may rely on the confirmation.
            var connection = currentConnection();
            confirmation = connection is null
                ? ValueTask.CompletedTask
                : Send(connection, isPattern ? "PSUBSCRIBE" : "SUBSCRIBE", channel, cancellationToken);
        }

        try
        {
            await confirmation.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisConnectionException or TimeoutException)
        {
            // The subscription stays registered: made on the next connection, or by this one when a server that hung
            // answers after all (a caller starting up must not fail over a Redis that is slow or paused).
        }
        catch
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return subscription;
    }

    public async ValueTask RemoveAsync(RedisSubscription subscription)
    {
        ValueTask confirmation = ValueTask.CompletedTask;
        lock (_lock)
        {
            var registry = subscription.IsPattern ? _patterns : _channels;
            if (!registry.TryGetValue(subscription.Channel, out var existing))
            {
                return;
            }

            var remaining = Array.FindAll(existing, s => s != subscription);
            if (remaining.Length > 0)
            {
                registry[subscription.Channel] = remaining;
                return;
            }

            registry.Remove(subscription.Channel);
            if (currentConnection() is { } connection)
            {
                confirmation = Send(connection, subscription.IsPattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", subscription.Channel, default);
            }
        }

        try
        {
            await confirmation.ConfigureAwait(false);
        }
        catch (RedisConnectionException)
        {
            // A lost connection dropped the server-side subscription anyway.
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            reportError(new RedisErrorEventArgs($"Unsubscribing from '{subscription.Channel}' failed.", ex));
        }
    }

    /// <summary>Subscribes a freshly connected subscriber connection to everything registered.</summary>
    public async Task ResubscribeAsync(RedisConnection connection)
    {
        var confirmations = new List<(string Channel, Task Confirmation)>();
        lock (_lock)
        {
            foreach (var channel in _channels.Keys)
            {
                confirmations.Add((channel, Send(connection, "SUBSCRIBE", channel, default).AsTask()));
            }

            foreach (var pattern in _patterns.Keys)
            {
                confirmations.Add((pattern, Send(connection, "PSUBSCRIBE", pattern, default).AsTask()));
            }
        }

        foreach (var (channel, confirmation) in confirmations)
        {
            try
            {
                await confirmation.ConfigureAwait(false);
            }
            catch (RedisConnectionException)
            {
                // Lost again; the next connection resubscribes.
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                reportError(new RedisErrorEventArgs($"Resubscribing to '{channel}' after reconnect failed.", ex));
            }
        }
    }

    /// <summary>Routes a <c>message</c>/<c>pmessage</c> frame; runs on the socket reader, so it only queues.</summary>
    public void Dispatch(RedisResult frame)
    {
        var items = frame.Items;
        var isPattern = items.Length == 4;
        var key = items[1].AsString()!;
        var message = isPattern
            ? new RedisMessage(items[2].AsString()!, key, items[3].AsBytes() ?? [])
            : new RedisMessage(key, null, items[2].AsBytes() ?? []);

        RedisSubscription[]? targets;
        lock (_lock)
        {
            (isPattern ? _patterns : _channels).TryGetValue(key, out targets);
        }

        foreach (var subscription in targets ?? [])
        {
            subscription.Deliver(message);
        }
    }

    public void ReportHandlerError(RedisSubscription subscription, Exception exception) =>
        reportError(new RedisErrorEventArgs($"The handler of subscription '{subscription.Channel}' failed.", exception));

    public void ReportDropped(RedisSubscription subscription, long dropped)
    {
        var message = $"Dropped {dropped} message(s) of subscription '{subscription.Channel}' because its handler fell "
            + $"behind (queue capacity {queueCapacity}).";
        reportError(new RedisErrorEventArgs(message, new RedisException(message)));
    }

    /// <summary>Ends delivery on every subscription; used when the client is disposed.</summary>
    public void StopAll()
    {
        RedisSubscription[] all;
        lock (_lock)
        {
            _stopped = true;
            all = [.. _channels.Values.SelectMany(s => s), .. _patterns.Values.SelectMany(s => s)];
            _channels.Clear();
            _patterns.Clear();
        }

        foreach (var subscription in all)
        {
            subscription.Stop();
        }
    }

    private static ValueTask Send(RedisConnection connection, string command, string channel, CancellationToken cancellationToken)
    {
        var builder = new CommandBuilder(command, 1);
        try
        {
            builder.Add(channel);
            return connection.SendAsync(ref builder, cancellationToken);
        }
        finally
        {
            builder.Dispose();
        }
    }
}
