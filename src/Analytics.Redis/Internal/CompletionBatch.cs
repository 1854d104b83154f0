namespace Analytics.Redis.Internal;

/// <summary>
/// The replies parsed from one socket read, completed together on a thread-pool thread. Callers' continuations run
/// inline here: one thread-pool hop per read instead of one per command, and never on the socket reader itself.
/// </summary>
internal sealed class CompletionBatch : IThreadPoolWorkItem
{
    private readonly List<(PendingCommand Command, RedisResult Reply)> _replies = [];

    public void Add(PendingCommand command, in RedisResult reply) => _replies.Add((command, reply));

    public void Execute()
    {
        foreach (var (command, reply) in _replies)
        {
            command.SetReply(reply);
        }
    }
}
