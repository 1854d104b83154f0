using Analytics.Redis;

namespace Analytics.Api.Infrastructure.Redis;

/// <summary>
/// What the Redis-backed stores do when Redis fails: fall back, and say so once per outage (not once per
/// request), then once more when Redis answers again.
/// </summary>
public sealed partial class RedisOutage(ILogger<RedisOutage> logger)
{
    private int _down;

    public bool IsDown => Volatile.Read(ref _down) == 1;

    /// <summary>Whether <paramref name="exception"/> is Redis being unavailable (rather than a bug to let through).</summary>
    /// <remarks>Error replies count too: LOADING, READONLY, BUSY, OOM or NOAUTH mean this Redis cannot serve us now.</remarks>
    public static bool IsOutage(Exception exception) => exception is RedisException or TimeoutException or ObjectDisposedException;

    public void Failed(string store, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (Interlocked.Exchange(ref _down, 1) == 0)
        {
            LogDown(store, exception.Message);
        }
    }

    public void Succeeded()
    {
        if (Volatile.Read(ref _down) == 1 && Interlocked.Exchange(ref _down, 0) == 1)
        {
            LogUp();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable ({Store}: {Reason}); caching is skipped, rate limits and the event bus run in-process until it returns")]
    private partial void LogDown(string store, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis is back; shared caching, rate limits and the event bus resume")]
    private partial void LogUp();
}
