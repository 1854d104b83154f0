using System.Collections.Frozen;
using Analytics.Redis.Internal;

namespace Analytics.Redis;

/// <summary>
/// A Redis client multiplexing all callers over one connection (plus one for pub/sub, opened on first use).
/// Thread-safe; create one per application and dispose it on shutdown.
/// </summary>
/// <remarks>
/// Command methods complete with <see cref="RedisServerException"/> for error replies,
/// <see cref="RedisConnectionException"/> when disconnected (no queuing while reconnecting),
/// <see cref="TimeoutException"/> after <see cref="RedisOptions.SyncTimeout"/>, and
/// <see cref="OperationCanceledException"/> when their token is cancelled. The returned value tasks must be awaited once.
/// </remarks>
public sealed partial class RedisClient : IAsyncDisposable
{
    // Commands that change connection-wide state would break reply matching or leak into other callers' commands.
    private static readonly FrozenSet<string> s_connectionStateCommands = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR",
        "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SELECT", "QUIT", "RESET", "HELLO", "AUTH", "SYNC", "PSYNC");

    // Commands that hold the shared connection until they time out, stalling every other caller behind them.
    private static readonly FrozenSet<string> s_blockingCommands = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "BLMPOP", "BZMPOP", "WAIT", "WAITAOF");

    private readonly ClientCounters _counters = new();
    private readonly ConnectionSupervisor _interactive;
    private readonly ConnectionSupervisor _subscriber;
    private readonly SubscriptionManager _subscriptions;
    private readonly Timer _timeoutTimer;
    private readonly Lock _subscriberStartLock = new();
    private Task? _subscriberStart;
    private int _disposed;

    private RedisClient(RedisOptions options)
    {
        Options = options;
        _interactive = new ConnectionSupervisor(
            options, RedisConnectionRole.Interactive, _counters, onPushMessage: null, afterConnect: null, RaiseStateChanged, RaiseError);
        _subscriptions = new SubscriptionManager(RaiseError, () => _subscriber!.Current, options.SubscriptionQueueCapacity);
        _subscriber = new ConnectionSupervisor(
            options,
            RedisConnectionRole.Subscriber,
            _counters,
            _subscriptions.Dispatch,
            _subscriptions.ResubscribeAsync,
            RaiseStateChanged,
            RaiseError);

        var period = TimeSpan.FromTicks(Math.Clamp(options.SyncTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerSecond));
        _timeoutTimer = new Timer(static state => ((RedisClient)state!).FailTimedOutCommands(), this, period, period);
    }

    /// <summary>Raised on every connect, loss and disposal of either connection. Handlers should return quickly.</summary>
    public event EventHandler<RedisConnectionStateChangedEventArgs>? StateChanged;

    /// <summary>Raised for errors no caller can observe, such as exceptions thrown by subscription handlers.</summary>
    public event EventHandler<RedisErrorEventArgs>? ErrorOccurred;

    public RedisOptions Options { get; }

    /// <summary>State of the connection used for commands.</summary>
    public RedisConnectionState State => _interactive.State;

    /// <summary>State of the pub/sub connection; <see cref="RedisConnectionState.Connecting"/> until the first subscription.</summary>
    public RedisConnectionState SubscriberState => _subscriber.State;

    public bool IsConnected => _interactive.Current is not null;

    /// <summary>The server commands currently go to, or null while disconnected.</summary>
    public RedisEndPoint? ConnectedEndPoint => _interactive.Current?.EndPoint;

    public static Task<RedisClient> ConnectAsync(string connectionString, CancellationToken cancellationToken = default) =>
        ConnectAsync(RedisOptions.Parse(connectionString), cancellationToken);

    /// <summary>
    /// Connects to the first reachable endpoint. Throws <see cref="RedisConnectionException"/> if none is reachable,
    /// unless <see cref="RedisOptions.AbortConnect"/> is false: then the client is returned disconnected and keeps retrying.
    /// </summary>
    public static async Task<RedisClient> ConnectAsync(RedisOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.EndPoints.Count == 0)
        {
            throw new ArgumentException("At least one endpoint is required.", nameof(options));
        }

        if (options.SubscriptionQueueCapacity < 1)
        {
            throw new ArgumentException("SubscriptionQueueCapacity must be at least 1.", nameof(options));
        }

        var client = new RedisClient(options);
        try
        {
            await client._interactive.StartAsync(options.AbortConnect, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return client;
    }

    public RedisClientStatistics GetStatistics() => _counters.Snapshot(_interactive.Current?.PendingCount ?? 0);

    /// <summary>
    /// Sends any command not covered by a typed method. Arguments may be strings (UTF-8), byte arrays,
    /// <see cref="ReadOnlyMemory{T}"/> of bytes, integers, floating-point numbers or other formattable values.
    /// Commands that change connection state (SUBSCRIBE, MULTI, SELECT, AUTH, CLIENT REPLY, ...) and blocking
    /// commands (BLPOP, WAIT, XREAD ... BLOCK, ...) are rejected with <see cref="ArgumentException"/>, and so are
    /// arguments of other types, such as a <see cref="CancellationToken"/>.
    /// </summary>
    public ValueTask<RedisResult> ExecuteAsync(string command, params object[] args) =>
        ExecuteAsync(command, args, CancellationToken.None);

    /// <inheritdoc cref="ExecuteAsync(string, object[])"/>
    public ValueTask<RedisResult> ExecuteAsync(string command, IReadOnlyCollection<object> args, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        ArgumentNullException.ThrowIfNull(args);
        RejectConnectionBreakingCommand(command, args);
        var builder = new CommandBuilder(command, args.Count);
        try
        {
            foreach (var arg in args)
            {
                builder.AddObject(arg);
            }
        }
        catch
        {
            builder.Dispose();
            throw;
        }

        return SendAsync(ref builder, ReplyMappers.Result, cancellationToken);
    }

    /// <summary>Loads the script into the server's script cache; returns its SHA1.</summary>
    public ValueTask<string?> ScriptLoadAsync(RedisScript script, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        var builder = new CommandBuilder("SCRIPT", 2);
        builder.Add("LOAD");
        builder.Add(script.Text);
        return SendAsync(ref builder, ReplyMappers.String, cancellationToken);
    }

    /// <summary>
    /// Runs a script with EVALSHA, falling back to EVAL (which also caches it) when the server answers NOSCRIPT.
    /// <paramref name="args"/> (ARGV) accepts the same types as <see cref="ExecuteAsync(string, object[])"/>.
    /// </summary>
    public async ValueTask<RedisResult> ScriptEvaluateAsync(
        RedisScript script,
        IReadOnlyCollection<string>? keys = null,
        IReadOnlyCollection<object>? args = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        try
        {
            return await Evaluate("EVALSHA", script.Sha1, keys, args, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.ErrorCode == "NOSCRIPT")
        {
            return await Evaluate("EVAL", script.Text, keys, args, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _timeoutTimer.DisposeAsync().ConfigureAwait(false);
        _subscriptions.StopAll();
        await _subscriber.DisposeAsync().ConfigureAwait(false);
        await _interactive.DisposeAsync().ConfigureAwait(false);
    }

    private ValueTask<RedisResult> Evaluate(
        string command,
        string scriptOrSha,
        IReadOnlyCollection<string>? keys,
        IReadOnlyCollection<object>? args,
        CancellationToken cancellationToken)
    {
        keys ??= [];
        args ??= [];
        var builder = new CommandBuilder(command, 2 + keys.Count + args.Count);
        builder.Add(scriptOrSha);
        builder.Add(keys.Count);
        foreach (var key in keys)
        {
            builder.Add(key);
        }

        try
        {
            foreach (var arg in args)
            {
                builder.AddObject(arg);
            }
        }
        catch
        {
            builder.Dispose();
            throw;
        }

        return SendAsync(ref builder, ReplyMappers.Result, cancellationToken);
    }

    private static void RejectConnectionBreakingCommand(string command, IReadOnlyCollection<object> args)
    {
        if (s_connectionStateCommands.Contains(command)
            || (command.Equals("CLIENT", StringComparison.OrdinalIgnoreCase)
                && args.FirstOrDefault() is string subcommand
                && subcommand.Equals("REPLY", StringComparison.OrdinalIgnoreCase)))
        {
            var name = command.Equals("CLIENT", StringComparison.OrdinalIgnoreCase) ? "CLIENT REPLY" : command.ToUpperInvariant();
            throw new ArgumentException(
                $"{name} changes the state of the shared connection; use the subscription API or a Lua script instead.",
                nameof(command));
        }

        if (s_blockingCommands.Contains(command) || IsBlockingStreamRead(command, args))
        {
            throw new ArgumentException(
                $"{command.ToUpperInvariant()} blocks the shared connection and every command queued behind it; "
                + "poll without blocking instead.",
                nameof(command));
        }
    }

    // XREAD/XREADGROUP block when a BLOCK option precedes STREAMS (after it come key names and IDs).
    private static bool IsBlockingStreamRead(string command, IReadOnlyCollection<object> args)
    {
        if (!command.Equals("XREAD", StringComparison.OrdinalIgnoreCase) && !command.Equals("XREADGROUP", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (var arg in args)
        {
            if (arg is string text)
            {
                if (text.Equals("STREAMS", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }

                if (text.Equals("BLOCK", StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Sends the command on the interactive connection and disposes <paramref name="command"/>.</summary>
    private ValueTask<T> SendAsync<T>(ref CommandBuilder command, Func<RedisResult, T> map, CancellationToken cancellationToken)
    {
        try
        {
            var connection = _interactive.Current;
            if (connection is null)
            {
                _counters.CommandFailed();
                return ValueTask.FromException<T>(_interactive.CreateNotConnectedException());
            }

            return connection.SendAsync(ref command, map, cancellationToken);
        }
        finally
        {
            command.Dispose();
        }
    }

    /// <inheritdoc cref="SendAsync{T}(ref CommandBuilder, Func{RedisResult, T}, CancellationToken)"/>
    private ValueTask SendAsync(ref CommandBuilder command, CancellationToken cancellationToken)
    {
        try
        {
            var connection = _interactive.Current;
            if (connection is null)
            {
                _counters.CommandFailed();
                return ValueTask.FromException(_interactive.CreateNotConnectedException());
            }

            return connection.SendAsync(ref command, cancellationToken);
        }
        finally
        {
            command.Dispose();
        }
    }

    private void FailTimedOutCommands()
    {
        _interactive.Current?.FailTimedOut(Options.SyncTimeout);
        _subscriber.Current?.FailTimedOut(Options.SyncTimeout);
    }

    private void RaiseStateChanged(RedisConnectionStateChangedEventArgs args)
    {
        try
        {
            StateChanged?.Invoke(this, args);
        }
        catch (Exception ex)
        {
            // Runs on connection threads; a throwing subscriber must not break reconnection.
            RaiseError(new RedisErrorEventArgs("A StateChanged handler failed.", ex));
        }
    }

    private void RaiseError(RedisErrorEventArgs args)
    {
        try
        {
            ErrorOccurred?.Invoke(this, args);
        }
        catch (Exception)
        {
            // Nowhere left to report it.
        }
    }

    private Task EnsureSubscriberStartedAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_subscriberStartLock)
        {
            // Shared by all callers, so not bound to one caller's token; ConnectTimeout bounds it.
            _subscriberStart ??= _subscriber.StartAsync(throwOnFailure: false, CancellationToken.None);
        }

        return _subscriberStart.WaitAsync(cancellationToken);
    }
}
