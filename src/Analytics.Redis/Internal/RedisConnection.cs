using System.Buffers;
using System.Collections.Concurrent;
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
    private static readonly PipeOptions s_outboundOptions = new(
        pauseWriterThreshold: 0, // never block callers inside the lock; timeouts bound what waits
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
    private readonly ConcurrentQueue<PendingCommand> _pending = new();
    private readonly Lock _writeLock = new();
    private readonly ClientCounters _counters;
    private readonly Action<RedisResult>? _onPushMessage;
    private readonly Action<RedisConnection, Exception> _onClosed;
    private bool _writeClosed;
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

    public int PendingCount => _pending.Count;

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
        if (!TrySend(command, encoded))
        {
            command.TryFail(new RedisConnectionException($"The connection to Redis at {EndPoint} is closed."));
        }
    }

    private bool TrySend(PendingCommand command, ReadOnlySpan<byte> encoded)
    {
        lock (_writeLock)
        {
            if (_writeClosed)
            {
                return false;
            }

            command.QueuedAt = Stopwatch.GetTimestamp();
            _pending.Enqueue(command);
            _outbound.Writer.Write(encoded);

            // With pauseWriterThreshold 0 a flush never waits for the writer loop; it only wakes it.
            var flush = _outbound.Writer.FlushAsync();
            Debug.Assert(flush.IsCompleted, "The outbound pipe must not apply back pressure.");
        }

        _counters.CommandSent();
        return true;
    }

    /// <summary>Fails the commands that have waited longer than <paramref name="timeout"/> for their reply.</summary>
    public void FailTimedOut(TimeSpan timeout)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var command in _pending)
        {
            if (command.IsCompleted)
            {
                continue;
            }

            // The FIFO is in send order, so the first command still within its time ends the scan.
            if (Stopwatch.GetElapsedTime(command.QueuedAt, now) < timeout)
            {
                break;
            }

            if (command.TryFail(new TimeoutException(
                $"Redis command {command.Name} got no reply from {EndPoint} within {timeout.TotalMilliseconds:0} ms.")))
            {
                _counters.Timeout();
            }
        }
    }

    /// <summary>Closes the socket and fails every pending command with <see cref="RedisConnectionException"/>.</summary>
    public void Close(Exception reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        lock (_writeLock)
        {
            _writeClosed = true;
            _outbound.Writer.Complete();
        }

        // Disposing the socket aborts the reader loop's pending receive.
        _socket.Dispose();
        while (_pending.TryDequeue(out var command))
        {
            command.TryFail(new RedisConnectionException(
                $"The connection to Redis at {EndPoint} was lost before {command.Name} got its reply.", reason));
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

        await _input.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        Close(reason);
    }

    private SequencePosition ProcessReplies(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        CompletionBatch? completions = null;
        try
        {
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
                else if (_pending.TryDequeue(out var command))
                {
                    (completions ??= new CompletionBatch()).Add(command, reply);
                }
                else
                {
                    throw new InvalidDataException($"Redis at {EndPoint} sent a reply no command was waiting for: {reply}.");
                }
            }
        }
        finally
        {
            // Also on a protocol error: these commands are out of the FIFO and must still get their replies.
            if (completions is not null)
            {
                ThreadPool.UnsafeQueueUserWorkItem(completions, preferLocal: false);
            }
        }
    }

    private static bool IsPushMessage(in RedisResult reply) =>
        reply.Kind == RedisResultKind.Array
        && reply.Items.Length > 0
        && (reply.Items[0].IsString("message"u8) || reply.Items[0].IsString("pmessage"u8));
}
