using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;

namespace Analytics.Redis.Internal;

/// <summary>
/// One socket to one server, shared by any number of concurrent callers. Callers append their encoded command to
/// an in-memory pipe and their <see cref="PendingCommand"/> to the FIFO under a short lock, so wire order and reply
/// order always agree. A writer loop copies whatever accumulated in the pipe to the socket (many commands per
/// write under load) and a reader loop parses replies and completes the FIFO head.
/// </summary>
internal sealed class RedisConnection
{
    /// <summary>
    /// Bytes that may wait in the outbound pipe for the socket. Beyond it new commands fail fast instead of queuing
    /// behind a stalled socket; a single command larger than this is still accepted when nothing else is queued.
    /// </summary>
    internal const long MaxQueuedOutboundBytes = 64L * 1024 * 1024;

    /// <summary>
    /// The connection is closed when its oldest unanswered command has waited this many sync timeouts: the server
    /// hangs or the TCP connection is half-open, and every later command would time out too.
    /// </summary>
    internal const int DeadConnectionTimeouts = 2;

    private static readonly PipeOptions s_outboundOptions = new(
        pauseWriterThreshold: 0, // never block callers inside the lock; MaxQueuedOutboundBytes bounds the pipe
        minimumSegmentSize: 16 * 1024,
        useSynchronizationContext: false);

    // Zero-byte reads would save the idle buffer of two connections at the cost of a syscall per read.
    private static readonly StreamPipeReaderOptions s_inboundOptions = new(
        bufferSize: 64 * 1024,
        minimumReadSize: 16 * 1024,
        useZeroByteReads: false);

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly Pipe _outbound = new(s_outboundOptions);
    // Guarded by _writeLock (enqueue with the bytes, so FIFO order equals wire order; dequeue by the reader).
    private readonly Queue<PendingCommand> _pending = new();
    private readonly Lock _writeLock = new();
    private readonly ClientCounters _counters;
    private readonly Action<RedisResult>? _onPushMessage;
    private readonly Action<RedisConnection, Exception> _onClosed;
    private bool _writeClosed;
    private long _queuedOutboundBytes;
    private int _closed;

    private RedisConnection(
        RedisEndPoint endPoint,
        Socket socket,
        Stream stream,
        ClientCounters counters,
        Action<RedisResult>? onPushMessage,
        Action<RedisConnection, Exception> onClosed)
    {
        EndPoint = endPoint;
        _socket = socket;
        _stream = stream;
        _input = PipeReader.Create(stream, s_inboundOptions);
        _counters = counters;
        _onPushMessage = onPushMessage;
        _onClosed = onClosed;
    }

    public RedisEndPoint EndPoint { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public int PendingCount
    {
        get
        {
            lock (_writeLock)
            {
                return _pending.Count;
            }
        }
    }

    /// <remarks>
    /// <c>onPushMessage</c> is set for subscriber connections: it receives the pub/sub <c>message</c>/<c>pmessage</c>
    /// frames, which answer no command. <c>onClosed</c> is called once when the connection dies, after all pending
    /// commands have failed.
    /// </remarks>
    public static async Task<RedisConnection> OpenAsync(
        RedisEndPoint endPoint,
        RedisOptions options,
        ClientCounters counters,
        Action<RedisResult>? onPushMessage,
        Action<RedisConnection, Exception> onClosed,
        CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            // Lets the OS notice a silently vanished server within about a minute instead of the default hours.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 30);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 10);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
            await socket.ConnectAsync(endPoint.Host, endPoint.Port, cancellationToken).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (options.Ssl)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions { TargetHost = options.SslHost ?? endPoint.Host },
                    cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            throw;
        }

        var connection = new RedisConnection(endPoint, socket, stream, counters, onPushMessage, onClosed);
        _ = connection.WriteLoopAsync();
        _ = connection.ReadLoopAsync();
        return connection;
    }

    /// <summary>Sends <paramref name="command"/> and returns its converted reply.</summary>
    public ValueTask<T> SendAsync<T>(scoped ref CommandBuilder command, Func<RedisResult, T> map, CancellationToken cancellationToken)
    {
        var pending = new PendingCommand<T>(command.Name, _counters, map);
        Send(pending, command.WrittenSpan, cancellationToken);
        return pending.AsValueTask();
    }

    /// <summary>Sends <paramref name="command"/> and ignores the content of a non-error reply.</summary>
    public ValueTask SendAsync(scoped ref CommandBuilder command, CancellationToken cancellationToken)
    {
        var pending = new PendingCommand<RedisResult>(command.Name, _counters, ReplyMappers.Result);
        Send(pending, command.WrittenSpan, cancellationToken);
        return pending.AsVoidValueTask();
    }

    private void Send(PendingCommand command, ReadOnlySpan<byte> encoded, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            command.TryFail(new OperationCanceledException(cancellationToken));
            return;
        }

        command.RegisterCancellation(cancellationToken);
        switch (TrySend(command, encoded))
        {
            case SendOutcome.Closed:
                command.TryFail(new RedisConnectionException($"The connection to Redis at {EndPoint} is closed."));
                break;
            case SendOutcome.OutboundFull:
                command.TryFail(new RedisConnectionException(
                    $"More than {MaxQueuedOutboundBytes / (1024 * 1024)} MB of commands are waiting to be written to Redis at "
                    + $"{EndPoint}; {command.Name} was not sent."));
                break;
        }
    }

    private SendOutcome TrySend(PendingCommand command, ReadOnlySpan<byte> encoded)
    {
        lock (_writeLock)
        {
            if (_writeClosed)
            {
                return SendOutcome.Closed;
            }

            var queued = Volatile.Read(ref _queuedOutboundBytes);
            if (queued > 0 && queued + encoded.Length > MaxQueuedOutboundBytes)
            {
                return SendOutcome.OutboundFull;
            }

            Interlocked.Add(ref _queuedOutboundBytes, encoded.Length);
            command.QueuedAt = Stopwatch.GetTimestamp();
            _pending.Enqueue(command);
            _outbound.Writer.Write(encoded);

            // With pauseWriterThreshold 0 a flush never waits for the writer loop; it only wakes it.
            var flush = _outbound.Writer.FlushAsync();
            Debug.Assert(flush.IsCompleted, "The outbound pipe must not apply back pressure.");
        }

        _counters.CommandSent();
        return SendOutcome.Sent;
    }

    /// <summary>
    /// Fails the commands that have waited longer than <paramref name="timeout"/> for their reply, and closes the
    /// connection when the oldest of them has waited <see cref="DeadConnectionTimeouts"/> times as long.
    /// </summary>
    public void FailTimedOut(TimeSpan timeout)
    {
        var now = Stopwatch.GetTimestamp();
        List<PendingCommand>? expired = null;
        var dead = false;
        lock (_writeLock)
        {
            var first = true;
            foreach (var command in _pending)
            {
                var waited = Stopwatch.GetElapsedTime(command.QueuedAt, now);

                // The FIFO is in send order, so the first command still within its time ends the scan.
                if (waited < timeout)
                {
                    break;
                }

                // The head is the oldest command without a reply, completed early or not.
                dead |= first && waited >= timeout * DeadConnectionTimeouts;
                first = false;
                if (!command.IsCompleted)
                {
                    (expired ??= []).Add(command);
                }
            }
        }

        foreach (var command in expired ?? [])
        {
            if (command.TryFail(new TimeoutException(
                $"Redis command {command.Name} got no reply from {EndPoint} within {timeout.TotalMilliseconds:0} ms.")))
            {
                _counters.Timeout();
            }
        }

        if (dead)
        {
            Close(new RedisConnectionException(
                $"Redis at {EndPoint} sent no reply for {(timeout * DeadConnectionTimeouts).TotalMilliseconds:0} ms; "
                + "closing the connection to reconnect."));
        }
    }

    /// <summary>Closes the socket and fails every pending command with <see cref="RedisConnectionException"/>.</summary>
    public void Close(Exception reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        PendingCommand[] orphans;
        lock (_writeLock)
        {
            _writeClosed = true;
            _outbound.Writer.Complete();
            orphans = [.. _pending];
            _pending.Clear();
        }

        // Disposing the socket aborts the reader loop's pending receive.
        _socket.Dispose();
        foreach (var command in orphans)
        {
            command.TryFail(new RedisConnectionException(
                $"The connection to Redis at {EndPoint} was lost before {command.Name} got its reply.", reason) { MayHaveExecuted = true });
        }

        _onClosed(this, reason);
    }

    private async Task WriteLoopAsync()
    {
        var reader = _outbound.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    await _stream.WriteAsync(segment).ConfigureAwait(false);
                }

                await _stream.FlushAsync().ConfigureAwait(false);
                Interlocked.Add(ref _queuedOutboundBytes, -buffer.Length);
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            Close(new RedisConnectionException($"Writing to Redis at {EndPoint} failed.", ex));
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception reason;
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = ProcessReplies(buffer);
                _input.AdvanceTo(consumed, buffer.End);
                if (result.IsCompleted)
                {
                    reason = new RedisConnectionException($"Redis at {EndPoint} closed the connection.");
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            // Whatever broke the loop (socket error, protocol violation), the connection cannot continue.
            reason = ex;
        }

        try
        {
            await _input.CompleteAsync().ConfigureAwait(false);
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Cleanup of a dead connection; what matters is that Close below runs.
            Debug.WriteLine($"Disposing the connection to {EndPoint} failed: {ex}");
        }
        finally
        {
            Close(reason);
        }
    }

    private SequencePosition ProcessReplies(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (true)
        {
            var attempt = reader;
            if (!RespParser.TryRead(ref attempt, out var reply))
            {
                return reader.Position;
            }

            reader = attempt;
            if (_onPushMessage is not null && IsPushMessage(reply))
            {
                _onPushMessage(reply);
            }
            else if (TryDequeue(out var command))
            {
                // Callers' continuations run asynchronously (see PendingCommand), never on this loop.
                command.SetReply(reply);
            }
            else
            {
                throw new InvalidDataException($"Redis at {EndPoint} sent a reply no command was waiting for: {reply}.");
            }
        }
    }

    private bool TryDequeue(out PendingCommand command)
    {
        lock (_writeLock)
        {
            return _pending.TryDequeue(out command!);
        }
    }

    private enum SendOutcome
    {
        Sent,
        Closed,
        OutboundFull,
    }

    private static bool IsPushMessage(in RedisResult reply) =>
        reply.Kind == RedisResultKind.Array
        && reply.Items.Length > 0
        && (reply.Items[0].IsString("message"u8) || reply.Items[0].IsString("pmessage"u8));
}
