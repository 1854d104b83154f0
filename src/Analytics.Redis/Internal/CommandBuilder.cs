using System.Buffers;
using System.Globalization;
using System.Text;

namespace Analytics.Redis.Internal;

/// <summary>
/// Encodes one command as a RESP array of bulk strings into a pooled buffer. Encoding happens before the command
/// is handed to a connection, so a bad argument can never leave a half-written command on the wire.
/// </summary>
internal ref struct CommandBuilder
{
    private const int InitialSize = 256;

    private byte[] _buffer;
    private int _length;
    private int _remainingArguments;

    /// <param name="command">The command name, e.g. <c>GET</c>.</param>
    /// <param name="argumentCount">The number of arguments that will be added after the name.</param>
    public CommandBuilder(string command, int argumentCount)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
        Name = command;
        _remainingArguments = argumentCount + 1;
        WriteHeader((byte)'*', argumentCount + 1);
        Add(command);
    }

    public string Name { get; }

    /// <summary>Clears the pooled buffer before returning it, for commands carrying secrets such as AUTH.</summary>
    public bool ContainsSecret { get; init; }

    public readonly ReadOnlySpan<byte> WrittenSpan
    {
        get
        {
            if (_remainingArguments != 0)
            {
                throw new InvalidOperationException($"Command {Name} is missing {_remainingArguments} argument(s).");
            }

            return _buffer.AsSpan(0, _length);
        }
    }

    public void Add(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var byteCount = Encoding.UTF8.GetByteCount(value);
        var span = BeginArgument(byteCount);
        Encoding.UTF8.GetBytes(value, span);
        EndArgument(byteCount);
    }

    public void Add(scoped ReadOnlySpan<byte> value)
    {
        value.CopyTo(BeginArgument(value.Length));
        EndArgument(value.Length);
    }

    public void Add(long value)
    {
        Span<byte> digits = stackalloc byte[20];
        value.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture);
        Add(digits[..written]);
    }

    public void Add(double value)
    {
        if (double.IsNaN(value))
        {
            throw new ArgumentException("NaN cannot be sent to Redis.", nameof(value));
        }

        if (double.IsInfinity(value))
        {
            Add(value > 0 ? "+inf"u8 : "-inf"u8);
            return;
        }

        Span<byte> text = stackalloc byte[32];
        value.TryFormat(text, out var written, "R", CultureInfo.InvariantCulture);
        Add(text[..written]);
    }

    /// <summary>Adds an argument of the loosely typed <see cref="RedisClient.ExecuteAsync(string, object[])"/> API.</summary>
    public void AddObject(object? value)
    {
        switch (value)
        {
            case null:
                throw new ArgumentNullException(nameof(value), "Redis command arguments cannot be null.");
            case string text:
                Add(text);
                break;
            case byte[] bytes:
                Add(bytes);
                break;
            case ReadOnlyMemory<byte> memory:
                Add(memory.Span);
                break;
            case Memory<byte> memory:
                Add(memory.Span);
                break;
            case int or long or short or byte or sbyte or ushort or uint:
                Add(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case double number:
                Add(number);
                break;
            case float number:
                Add((double)number);
                break;
            case bool flag:
                Add(flag ? 1L : 0L);
                break;
            case CancellationToken:
                throw new ArgumentException(
                    $"A CancellationToken was passed as an argument of {Name}; use the overload taking "
                    + "(command, args, cancellationToken) to cancel a command.",
                    nameof(value));
            case IFormattable formattable:
                Add(formattable.ToString(null, CultureInfo.InvariantCulture));
                break;
            default:
                throw new ArgumentException(
                    $"An argument of type {value.GetType()} cannot be sent to Redis as part of {Name}; pass a string, "
                    + "bytes, a number or another formattable value.",
                    nameof(value));
        }
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: ContainsSecret);
        }
    }

    private Span<byte> BeginArgument(int length)
    {
        if (--_remainingArguments < 0)
        {
            throw new InvalidOperationException($"Too many arguments for command {Name}.");
        }

        WriteHeader((byte)'$', length);
        EnsureCapacity(length + 2);
        return _buffer.AsSpan(_length, length);
    }

    private void EndArgument(int length)
    {
        _length += length;
        _buffer[_length++] = (byte)'\r';
        _buffer[_length++] = (byte)'\n';
    }

    private void WriteHeader(byte prefix, int value)
    {
        EnsureCapacity(1 + 11 + 2);
        _buffer[_length++] = prefix;
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
        _buffer[_length++] = (byte)'\r';
        _buffer[_length++] = (byte)'\n';
    }

    private void EnsureCapacity(int additional)
    {
        if (_buffer.Length - _length >= additional)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + additional));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer, clearArray: ContainsSecret);
        _buffer = larger;
    }
}
