namespace Analytics.Redis.Internal;

internal sealed class ClientCounters
{
    private long _commandsSent;
    private long _commandsFailed;
    private long _timeouts;
    private long _reconnects;

    public void CommandSent() => Interlocked.Increment(ref _commandsSent);

    public void CommandFailed() => Interlocked.Increment(ref _commandsFailed);

    public void Timeout() => Interlocked.Increment(ref _timeouts);

    public void Reconnected() => Interlocked.Increment(ref _reconnects);

    public RedisClientStatistics Snapshot(int pendingCommands) => new(
        Interlocked.Read(ref _commandsSent),
        Interlocked.Read(ref _commandsFailed),
        Interlocked.Read(ref _timeouts),
        Interlocked.Read(ref _reconnects),
        pendingCommands);
}
