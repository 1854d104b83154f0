namespace Analytics.Redis;

public enum RedisConnectionState
{
    /// <summary>The first connection attempt is in progress.</summary>
    Connecting,

    /// <summary>Commands are accepted.</summary>
    Connected,

    /// <summary>The connection is lost or could not be made; reconnecting in the background. Commands fail fast.</summary>
    Disconnected,

    /// <summary>The client was disposed.</summary>
    Disposed,
}

/// <summary>Which of the client's two connections an event is about.</summary>
public enum RedisConnectionRole
{
    /// <summary>The multiplexed connection used by all commands.</summary>
    Interactive,

    /// <summary>The connection used for SUBSCRIBE/PSUBSCRIBE, opened on the first subscription.</summary>
    Subscriber,
}

public sealed class RedisConnectionStateChangedEventArgs(
    RedisConnectionRole role,
    RedisConnectionState state,
    string? endPoint,
    Exception? error) : EventArgs
{
    public RedisConnectionRole Role { get; } = role;

    public RedisConnectionState State { get; } = state;

    /// <summary>The server connected to, or the server whose connection was lost.</summary>
    public string? EndPoint { get; } = endPoint;

    /// <summary>Why the connection was lost or could not be made, if known.</summary>
    public Exception? Error { get; } = error;
}

/// <summary>An error that has no caller to be thrown to, such as a failing subscription handler.</summary>
public sealed class RedisErrorEventArgs(string message, Exception exception) : EventArgs
{
    public string Message { get; } = message;

    public Exception Exception { get; } = exception;
}

/// <summary>Cumulative counters of a <see cref="RedisClient"/>, for readiness checks and logs.</summary>
/// <param name="CommandsSent">Commands written to a connection.</param>
/// <param name="CommandsFailed">Commands that completed with an exception other than cancellation, including error replies and timeouts.</param>
/// <param name="Timeouts">Commands that got no reply within <see cref="RedisOptions.SyncTimeout"/>.</param>
/// <param name="Reconnects">Successful connections made after a connection was lost.</param>
/// <param name="PendingCommands">Commands currently waiting for a reply on the interactive connection.</param>
public readonly record struct RedisClientStatistics(
    long CommandsSent,
    long CommandsFailed,
    long Timeouts,
    long Reconnects,
    int PendingCommands);
