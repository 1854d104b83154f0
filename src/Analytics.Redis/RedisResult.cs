using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Analytics.Redis;

public enum RedisResultKind
{
    /// <summary>Null bulk string or null array (nil).</summary>
    Null,
    SimpleString,
    Error,
#pragma warning disable CA1720 // Named after the RESP2 type.
    Integer,
#pragma warning restore CA1720
    BulkString,
    Array,
}

/// <summary>One RESP2 reply. Errors appear here only nested inside arrays; a top-level error is thrown as <see cref="RedisServerException"/>.</summary>
public readonly struct RedisResult : IEquatable<RedisResult>
{
    private readonly object? _value;
    private readonly long _integer;

    private RedisResult(RedisResultKind kind, object? value, long integer)
    {
        Kind = kind;
        _value = value;
        _integer = integer;
    }

    public static RedisResult Null => default;

    public RedisResultKind Kind { get; }

    public bool IsNull => Kind == RedisResultKind.Null;

    /// <summary>The payload of a simple or bulk string, the decimal text of an integer, or null for nil.</summary>
    /// <remarks>A bulk string returns the reply's own buffer without copying.</remarks>
    public byte[]? AsBytes() => Kind switch
    {
        RedisResultKind.Null => null,
        RedisResultKind.BulkString => (byte[])_value!,
        RedisResultKind.SimpleString or RedisResultKind.Error => ((byte[])_value!).AsSpan().ToArray(),
        RedisResultKind.Integer => Encoding.ASCII.GetBytes(_integer.ToString(CultureInfo.InvariantCulture)),
        _ => throw Unexpected("a string"),
    };

    /// <summary>The value as UTF-8 text (error text for errors, decimal text for integers), or null for nil.</summary>
    public string? AsString() => Kind switch
    {
        RedisResultKind.Null => null,
        RedisResultKind.BulkString or RedisResultKind.SimpleString or RedisResultKind.Error => Encoding.UTF8.GetString((byte[])_value!),
        RedisResultKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        _ => throw Unexpected("a string"),
    };

    /// <summary>An integer reply, or a string reply holding a decimal integer (e.g. GET of a counter).</summary>
    public long AsInt64()
    {
        if (Kind == RedisResultKind.Integer)
        {
            return _integer;
        }

        if (Kind is RedisResultKind.BulkString or RedisResultKind.SimpleString
            && Utf8Parser.TryParse((byte[])_value!, out long value, out var consumed)
            && consumed == ((byte[])_value!).Length)
        {
            return value;
        }

        throw Unexpected("an integer");
    }

    /// <summary>The elements of an array reply, or null for a nil array.</summary>
    public IReadOnlyList<RedisResult>? AsArray() => Kind switch
    {
        RedisResultKind.Null => null,
        RedisResultKind.Array => (RedisResult[])_value!,
        _ => throw Unexpected("an array"),
    };

    public override string ToString() => Kind switch
    {
        RedisResultKind.Null => "(nil)",
        RedisResultKind.Array => $"[{string.Join(", ", (RedisResult[])_value!)}]",
        RedisResultKind.Error => $"(error) {AsString()}",
        _ => AsString()!,
    };

    public bool Equals(RedisResult other)
    {
        if (Kind != other.Kind || _integer != other._integer)
        {
            return false;
        }

        return (_value, other._value) switch
        {
            (byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b),
            (RedisResult[] a, RedisResult[] b) => a.AsSpan().SequenceEqual(b),
            (null, null) => true,
            _ => false,
        };
    }

    public override bool Equals(object? obj) => obj is RedisResult other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Kind, _integer, _value is byte[] bytes ? bytes.Length : 0);

    public static bool operator ==(RedisResult left, RedisResult right) => left.Equals(right);

    public static bool operator !=(RedisResult left, RedisResult right) => !left.Equals(right);

    internal static RedisResult SimpleString(byte[] value) => new(RedisResultKind.SimpleString, value, 0);

    internal static RedisResult Error(byte[] message) => new(RedisResultKind.Error, message, 0);

    internal static RedisResult Integer(long value) => new(RedisResultKind.Integer, null, value);

    internal static RedisResult BulkString(byte[] value) => new(RedisResultKind.BulkString, value, 0);

    internal static RedisResult Array(RedisResult[] items) => new(RedisResultKind.Array, items, 0);

    /// <summary>Compares a string reply with ASCII text without allocating.</summary>
    internal bool IsString(ReadOnlySpan<byte> ascii) =>
        Kind is RedisResultKind.SimpleString or RedisResultKind.BulkString && ((byte[])_value!).AsSpan().SequenceEqual(ascii);

    internal RedisResult[] Items => Kind == RedisResultKind.Array ? (RedisResult[])_value! : throw Unexpected("an array");

    private InvalidOperationException Unexpected(string expected) =>
        new($"Expected {expected} reply from Redis but got {Kind}.");
}
