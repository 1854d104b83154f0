namespace Analytics.Redis.Internal;

/// <summary>
/// Keeps one logical connection alive: opens it, replays AUTH/SELECT, publishes it for use, and after a loss
/// reconnects in the background with exponential backoff. While no connection is published, callers fail fast.
/// </summary>
internal sealed class ConnectionSupervisor : IAsyncDisposable
{
    // Task.Delay rejects longer delays.
    private const double MaxDelayMilliseconds = int.MaxValue - 1;

    private readonly RedisOptions _options;
    private readonly RedisConnectionRole _role;
    private readonly ClientCounters _counters;
    private readonly Action<RedisResult>? _onPushMessage;
    private readonly Func<RedisConnection, Task>? _afterConnect;
    private readonly Action<RedisConnectionStateChangedEventArgs> _onStateChanged;
    private readonly Action<RedisErrorEventArgs> _onError;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Lock _stateLock = new();
    private RedisConnection? _current;
    private RedisConnectionState _state = RedisConnectionState.Connecting;
    private bool _everConnected;
    private int _reconnectLoopRunning;

    /// <remarks><c>afterConnect</c> runs on every new connection right after it was published (resubscription).</remarks>
    public ConnectionSupervisor(
        RedisOptions options,
        RedisConnectionRole role,
        ClientCounters counters,
        Action<RedisResult>? onPushMessage,
        Func<RedisConnection, Task>? afterConnect,
        Action<RedisConnectionStateChangedEventArgs> onStateChanged,
        Action<RedisErrorEventArgs> onError)
    {
        _options = options;
        _role = role;
        _counters = counters;
        _onPushMessage = onPushMessage;
        _afterConnect = afterConnect;
        _onStateChanged = onStateChanged;
        _onError = onError;
    }

    public RedisConnection? Current => Volatile.Read(ref _current);

    public RedisConnectionState State
    {
        get
        {
            lock (_stateLock)
            {
                return _state;
            }
        }
    }

    /// <summary>Makes the first connection attempt; on failure either throws or keeps retrying in the background.</summary>
    public async Task StartAsync(bool throwOnFailure, CancellationToken cancellationToken)
    {
        try
        {
            await ConnectOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!throwOnFailure && ex is not OperationCanceledException)
        {
            if (ex is not RedisConnectionException)
            {
                _onError(new RedisErrorEventArgs($"Connecting the {_role} connection to Redis failed; retrying.", ex));
            }

            if (Current is null)
            {
                SetDisconnected(null, ex);
                StartReconnectLoop();
            }
        }
    }

    public Exception CreateNotConnectedException() => State == RedisConnectionState.Disposed
        ? new ObjectDisposedException(nameof(RedisClient))
        : new RedisConnectionException(
            $"No connection to Redis ({string.Join(",", _options.EndPoints)}) is available; reconnecting in the background.");

    public async ValueTask DisposeAsync()
    {
        RedisConnection? connection;
        lock (_stateLock)
        {
            if (_state == RedisConnectionState.Disposed)
            {
                return;
            }

            _state = RedisConnectionState.Disposed;
            connection = _current;
            _current = null;
        }

        await _shutdown.CancelAsync().ConfigureAwait(false);
        connection?.Close(new ObjectDisposedException(nameof(RedisClient)));
        RaiseStateChanged(RedisConnectionState.Disposed, connection?.EndPoint, null);
    }

    private async Task ConnectOnceAsync(CancellationToken cancellationToken)
    {
        var errors = new List<Exception>();
        foreach (var endPoint in _options.EndPoints)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdown.Token);
            attempt.CancelAfter(_options.ConnectTimeout);
            RedisConnection? connection = null;
            try
            {
                connection = await RedisConnection.OpenAsync(
                    endPoint, _options, _counters, _onPushMessage, OnConnectionClosed, attempt.Token).ConfigureAwait(false);
                await HandshakeAsync(connection, attempt.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && !_shutdown.IsCancellationRequested)
            {
                connection?.Close(ex);
                errors.Add(ex is OperationCanceledException
                    ? new TimeoutException($"Connecting to {endPoint} timed out after {_options.ConnectTimeout.TotalMilliseconds:0} ms.")
                    : ex);
                continue;
            }
            catch
            {
                connection?.Close(new OperationCanceledException());
                throw;
            }

            if (!TryPublish(connection))
            {
                var closed = new RedisConnectionException("The connection was closed before it could be used.");
                connection.Close(closed);
                if (State == RedisConnectionState.Disposed)
                {
                    return;
                }

                // Not a success: the first attempt must start the reconnect loop (and a loop must go on), or the
                // client would stay without a connection for good, with nothing left to make one.
                throw closed;
            }

            if (_afterConnect is not null)
            {
                await _afterConnect(connection).ConfigureAwait(false);
            }

            return;
        }

        throw new RedisConnectionException(
            $"Could not connect to Redis at {string.Join(",", _options.EndPoints)}: {string.Join(" ", errors.Select(e => e.Message))}",
            errors.Count == 1 ? errors[0] : new AggregateException(errors));
    }

    private async Task HandshakeAsync(RedisConnection connection, CancellationToken cancellationToken)
    {
        if (_options.Password is not null)
        {
            var auth = new CommandBuilder("AUTH", _options.User is null ? 1 : 2) { ContainsSecret = true };
            if (_options.User is not null)
            {
                auth.Add(_options.User);
            }

            auth.Add(_options.Password);
            await Send(connection, ref auth, cancellationToken).ConfigureAwait(false);
        }

        if (_options.DefaultDatabase != 0 && _role == RedisConnectionRole.Interactive)
        {
            var select = new CommandBuilder("SELECT", 1);
            select.Add(_options.DefaultDatabase);
            await Send(connection, ref select, cancellationToken).ConfigureAwait(false);
        }

        // Always one round trip before the connection is used: a server that accepts the socket and then refuses the
        // client (maxclients reached, a proxy with no server behind it) fails here, inside the reconnect loop's
        // backoff, instead of after publication (a new connection, and a reset backoff, about ten times a second).
        var ping = new CommandBuilder("PING", 0);
        await Send(connection, ref ping, cancellationToken).ConfigureAwait(false);

        static ValueTask<RedisResult> Send(RedisConnection connection, ref CommandBuilder command, CancellationToken cancellationToken)
        {
            try
            {
                return connection.SendAsync(ref command, ReplyMappers.Result, cancellationToken);
            }
            finally
            {
                command.Dispose();
            }
        }
    }

    private bool TryPublish(RedisConnection connection)
    {
        lock (_stateLock)
        {
            // A connection that died before publication will never report its loss to us again.
            if (connection.IsClosed || _state == RedisConnectionState.Disposed)
            {
                return false;
            }

            _current = connection;
            _state = RedisConnectionState.Connected;
            if (_everConnected)
            {
                _counters.Reconnected();
            }

            _everConnected = true;
        }

        // Raised outside the lock: a handler that reads State or disposes the client must not deadlock.
        RaiseStateChanged(RedisConnectionState.Connected, connection.EndPoint, null);
        return true;
    }

    private void OnConnectionClosed(RedisConnection connection, Exception reason)
    {
        if (SetDisconnected(connection, reason))
        {
            StartReconnectLoop();
        }
    }

    private bool SetDisconnected(RedisConnection? connection, Exception reason)
    {
        lock (_stateLock)
        {
            if (_current != connection || _state == RedisConnectionState.Disposed)
            {
                return false;
            }

            _current = null;
            _state = RedisConnectionState.Disconnected;
        }

        RaiseStateChanged(RedisConnectionState.Disconnected, connection?.EndPoint, reason);
        return true;
    }

    private void StartReconnectLoop()
    {
        if (!_shutdown.IsCancellationRequested && Interlocked.Exchange(ref _reconnectLoopRunning, 1) == 0)
        {
            _ = Task.Run(ReconnectLoopAsync);
        }
    }

    private async Task ReconnectLoopAsync()
    {
        var delay = _options.ReconnectMinDelay;
        try
        {
            while (!_shutdown.IsCancellationRequested && Current is null)
            {
                try
                {
                    await Task.Delay(WithJitter(delay), _shutdown.Token).ConfigureAwait(false);
                    await ConnectOnceAsync(_shutdown.Token).ConfigureAwait(false);
                    continue;
                }
                catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
                {
                    break;
                }
                catch (RedisConnectionException)
                {
                    // Expected while the server is down; reported through StateChanged already.
                }
                catch (Exception ex)
                {
                    // Anything else (a failing resubscription, a bug) must not end reconnection for good.
                    _onError(new RedisErrorEventArgs($"Reconnecting the {_role} connection to Redis failed; retrying.", ex));
                }

                delay = NextDelay(delay);
            }
        }
        finally
        {
            Volatile.Write(ref _reconnectLoopRunning, 0);
        }

        // A connection lost while this loop was finishing could not start a new loop; start it here instead.
        if (Current is null && !_shutdown.IsCancellationRequested)
        {
            StartReconnectLoop();
        }
    }

    private TimeSpan NextDelay(TimeSpan delay)
    {
        var max = Math.Max(_options.ReconnectMaxDelay.Ticks, 0);
        return TimeSpan.FromTicks(delay.Ticks >= max / 2 ? max : Math.Max(delay.Ticks * 2, 1));
    }

    // Spreads the reconnects of many clients after a server restart. Clamped to what Task.Delay accepts.
#pragma warning disable CA5394 // Random is fine for jitter.
    private static TimeSpan WithJitter(TimeSpan delay) =>
        TimeSpan.FromMilliseconds(Math.Clamp(
            delay.TotalMilliseconds * (0.8 + (Random.Shared.NextDouble() * 0.4)), 0, MaxDelayMilliseconds));
#pragma warning restore CA5394

    private void RaiseStateChanged(RedisConnectionState state, RedisEndPoint? endPoint, Exception? error) =>
        _onStateChanged(new RedisConnectionStateChangedEventArgs(_role, state, endPoint?.ToString(), error));
}
