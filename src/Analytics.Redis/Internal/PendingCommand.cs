using System.Threading.Tasks.Sources;

namespace Analytics.Redis.Internal;

/// <summary>
/// A command waiting for its reply. It completes exactly once: by its reply, a timeout, the caller's cancellation
/// or the loss of its connection. It stays in the connection's FIFO until its reply arrives even when it completed
/// early, so that later replies keep matching their commands.
/// </summary>
internal abstract class PendingCommand(string name, ClientCounters counters)
{
    private int _completed;
    private CancellationTokenRegistration _cancellation;

    public string Name { get; } = name;

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp taken when the command was queued for writing.</summary>
    public long QueuedAt { get; set; }

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    protected ClientCounters Counters { get; } = counters;

    /// <summary>Must be called before the command becomes visible to a connection.</summary>
    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(
                static (state, token) => ((PendingCommand)state!).TryFail(new OperationCanceledException(token)),
                this);
        }
    }

    /// <summary>Completes the command with its reply; an error reply becomes a <see cref="RedisServerException"/>.</summary>
    public void SetReply(in RedisResult reply)
    {
        if (reply.Kind == RedisResultKind.Error)
        {
            TryFail(new RedisServerException(reply.AsString()!));
            return;
        }

        if (!TryMarkCompleted())
        {
            return;
        }

        try
        {
            OnReply(reply);
        }
        catch (Exception ex)
        {
            Counters.CommandFailed();
            OnFailed(ex);
        }
    }

    public bool TryFail(Exception exception)
    {
        if (!TryMarkCompleted())
        {
            return false;
        }

        if (exception is not OperationCanceledException)
        {
            Counters.CommandFailed();
        }

        OnFailed(exception);
        return true;
    }

    protected abstract void OnReply(in RedisResult reply);

    protected abstract void OnFailed(Exception exception);

    private bool TryMarkCompleted()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        _cancellation.Unregister();
        return true;
    }
}

/// <summary>A pending command whose reply is converted to <typeparamref name="T"/> on completion.</summary>
/// <remarks>Awaitable once, through the <see cref="ValueTask{T}"/> or <see cref="ValueTask"/> it hands out.</remarks>
internal sealed class PendingCommand<T>(string name, ClientCounters counters, Func<RedisResult, T> map)
    : PendingCommand(name, counters), IValueTaskSource<T>, IValueTaskSource
{
    // Replies are set by the socket reader, failures by timers, cancellation callbacks and the reader: callers'
    // continuations always go to the thread pool, so a slow one can never delay other replies or the reader.
    private ManualResetValueTaskSourceCore<T> _core = new() { RunContinuationsAsynchronously = true };

    public ValueTask<T> AsValueTask() => new(this, _core.Version);

    public ValueTask AsVoidValueTask() => new(this, _core.Version);

    public T GetResult(short token) => _core.GetResult(token);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    protected override void OnReply(in RedisResult reply) => _core.SetResult(map(reply));

    protected override void OnFailed(Exception exception) => _core.SetException(exception);
}
