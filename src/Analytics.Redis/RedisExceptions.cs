namespace Analytics.Redis;

/// <summary>Base type of the errors raised by <see cref="RedisClient"/>.</summary>
public class RedisException : Exception
{
    public RedisException()
    {
    }

    public RedisException(string message)
        : base(message)
    {
    }

    public RedisException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The command could not be delivered or its reply was lost: no connection, connection dropped, client disposed.
/// The command may or may not have been executed by the server.
/// </summary>
public sealed class RedisConnectionException : RedisException
{
    public RedisConnectionException()
    {
    }

    public RedisConnectionException(string message)
        : base(message)
    {
    }

    public RedisConnectionException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// True when the command had been handed to the connection before it was lost: its bytes may have reached the
    /// server, which then runs it. False when it certainly was not sent (no connection, closed before sending, the
    /// outbound queue full): a caller may then act as if it never happened (deliver a publish locally, say).
    /// </summary>
    public bool MayHaveExecuted { get; init; }
}

/// <summary>The server answered with an error reply; <see cref="Exception.Message"/> is the server's text.</summary>
public sealed class RedisServerException : RedisException
{
    public RedisServerException()
    {
    }

    public RedisServerException(string message)
        : base(message)
    {
    }

    public RedisServerException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The error code, i.e. the first word of the message such as <c>WRONGTYPE</c> or <c>NOSCRIPT</c>.</summary>
    public string ErrorCode
    {
        get
        {
            var space = Message.IndexOf(' ', StringComparison.Ordinal);
            return space < 0 ? Message : Message[..space];
        }
    }
}

/// <summary>A malformed connection string; the message names the offending part.</summary>
public sealed class RedisConfigurationException : FormatException
{
    public RedisConfigurationException()
    {
    }

    public RedisConfigurationException(string message)
        : base(message)
    {
    }

    public RedisConfigurationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
