using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;

namespace Analytics.Redis.Internal;

/// <summary>Incremental RESP2 reply parser over the connection's receive buffer.</summary>
/// <remarks>
/// A reply is first scanned for completeness without allocating and only then parsed, once: a large reply that
/// arrives over many socket reads is not re-materialised on every read.
/// </remarks>
internal static class RespParser
{
    /// <summary>Arrays nested deeper than this are treated as a protocol error (Redis itself never nests this deep).</summary>
    public const int MaxDepth = 64;

    // Bulk strings and arrays are limited to 512 MB / 2^32 elements by Redis itself; anything larger is corruption.
    private const long MaxBulkLength = 512L * 1024 * 1024;
    private const long MaxArrayLength = int.MaxValue;

    // Longest valid integer line: sign plus 19 digits.
    private const int MaxIntegerLength = 20;

    private static readonly byte[] s_ok = "OK"u8.ToArray();

    /// <summary>
    /// Reads one complete reply. Returns false, leaving <paramref name="reader"/> in an unspecified position,
    /// when the buffer ends before the reply does; the caller retries from the same start once more data arrived.
    /// </summary>
    /// <exception cref="InvalidDataException">The data is not valid RESP2, or nests deeper than <see cref="MaxDepth"/>.</exception>
    public static bool TryRead(ref SequenceReader<byte> reader, out RedisResult result)
    {
        result = default;
        var scan = reader;
        if (!TrySkip(ref scan, depth: 0))
        {
            return false;
        }

        var parsed = TryReadValue(ref reader, out result);
        Debug.Assert(parsed && reader.Consumed == scan.Consumed, "A scanned reply must parse completely.");
        return true;
    }

    /// <summary>Advances past one complete reply without allocating; false if the buffer ends first.</summary>
    private static bool TrySkip(ref SequenceReader<byte> reader, int depth)
    {
        if (!reader.TryRead(out var prefix))
        {
            return false;
        }

        switch (prefix)
        {
            case (byte)'+':
            case (byte)'-':
                return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n"u8);

            case (byte)':':
                return TryReadInteger(ref reader, out _);

            case (byte)'$':
                if (!TryReadInteger(ref reader, out var length))
                {
                    return false;
                }

                if (length == -1)
                {
                    return true;
                }

                ValidateBulkLength(length);
                if (reader.Remaining < length + 2)
                {
                    return false;
                }

                reader.Advance(length);
                ExpectCrLf(ref reader);
                return true;

            case (byte)'*':
                if (!TryReadInteger(ref reader, out var count))
                {
                    return false;
                }

                if (count == -1)
                {
                    return true;
                }

                ValidateArrayLength(count);
                if (depth >= MaxDepth)
                {
                    throw new InvalidDataException($"RESP arrays are nested deeper than {MaxDepth} levels.");
                }

                for (var i = 0L; i < count; i++)
                {
                    // Every element takes at least 3 bytes; a count the buffer cannot hold yet means "incomplete".
                    if (reader.Remaining < (count - i) * 3 || !TrySkip(ref reader, depth + 1))
                    {
                        return false;
                    }
                }

                return true;

            default:
                throw new InvalidDataException($"Unexpected RESP type marker 0x{prefix:X2}.");
        }
    }

    /// <summary>Parses one reply that <see cref="TrySkip"/> found complete and valid.</summary>
    private static bool TryReadValue(ref SequenceReader<byte> reader, out RedisResult result)
    {
        result = default;
        if (!reader.TryRead(out var prefix))
        {
            return false;
        }

        switch (prefix)
        {
            case (byte)'+':
                if (!TryReadLine(ref reader, out var simple))
                {
                    return false;
                }

                result = RedisResult.SimpleString(simple.SequenceEqual(s_ok) ? s_ok : simple.ToArray());
                return true;

            case (byte)'-':
                if (!TryReadLine(ref reader, out var error))
                {
                    return false;
                }

                result = RedisResult.Error(error.ToArray());
                return true;

            case (byte)':':
                if (!TryReadInteger(ref reader, out var integer))
                {
                    return false;
                }

                result = RedisResult.Integer(integer);
                return true;

            case (byte)'$':
                return TryReadBulk(ref reader, out result);

            case (byte)'*':
                return TryReadArray(ref reader, out result);

            default:
                throw new InvalidDataException($"Unexpected RESP type marker 0x{prefix:X2}.");
        }
    }

    private static bool TryReadBulk(ref SequenceReader<byte> reader, out RedisResult result)
    {
        result = default;
        if (!TryReadInteger(ref reader, out var length))
        {
            return false;
        }

        if (length == -1)
        {
            result = RedisResult.Null;
            return true;
        }

        ValidateBulkLength(length);
        if (reader.Remaining < length + 2)
        {
            return false;
        }

        var value = GC.AllocateUninitializedArray<byte>((int)length);
        reader.TryCopyTo(value);
        reader.Advance(length);
        ExpectCrLf(ref reader);

        result = RedisResult.BulkString(value);
        return true;
    }

    private static bool TryReadArray(ref SequenceReader<byte> reader, out RedisResult result)
    {
        result = default;
        if (!TryReadInteger(ref reader, out var count))
        {
            return false;
        }

        if (count == -1)
        {
            result = RedisResult.Null;
            return true;
        }

        ValidateArrayLength(count);
        if (reader.Remaining < count * 3)
        {
            return false;
        }

        var items = count == 0 ? [] : new RedisResult[count];
        for (var i = 0; i < items.Length; i++)
        {
            if (!TryReadValue(ref reader, out items[i]))
            {
                return false;
            }
        }

        result = RedisResult.Array(items);
        return true;
    }

    private static bool TryReadLine(ref SequenceReader<byte> reader, out ReadOnlySpan<byte> line)
    {
        if (reader.TryReadTo(out line, "\r\n"u8))
        {
            return true;
        }

        line = default;
        return false;
    }

    private static bool TryReadInteger(ref SequenceReader<byte> reader, out long value)
    {
        value = 0;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
        {
            return false;
        }

        if (line.Length is 0 or > MaxIntegerLength)
        {
            throw new InvalidDataException("Invalid integer in RESP data.");
        }

        Span<byte> copy = stackalloc byte[MaxIntegerLength];
        var digits = line.IsSingleSegment ? line.FirstSpan : copy[..(int)line.Length];
        if (!line.IsSingleSegment)
        {
            line.CopyTo(copy);
        }

        if (!Utf8Parser.TryParse(digits, out value, out var consumed) || consumed != digits.Length)
        {
            throw new InvalidDataException("Invalid integer in RESP data.");
        }

        return true;
    }

    private static void ValidateBulkLength(long length)
    {
        if (length is < 0 or > MaxBulkLength)
        {
            throw new InvalidDataException($"Invalid bulk string length {length}.");
        }
    }

    private static void ValidateArrayLength(long count)
    {
        if (count is < 0 or > MaxArrayLength)
        {
            throw new InvalidDataException($"Invalid array length {count}.");
        }
    }

    private static void ExpectCrLf(ref SequenceReader<byte> reader)
    {
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw new InvalidDataException("Bulk string is not terminated by CRLF.");
        }
    }
}
