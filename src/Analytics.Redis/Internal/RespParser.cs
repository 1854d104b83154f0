using System.Buffers;
using System.Buffers.Text;

namespace Analytics.Redis.Internal;

/// <summary>Incremental RESP2 reply parser over the connection's receive buffer.</summary>
internal static class RespParser
{
    // Bulk strings and arrays are limited to 512 MB / 2^32 elements by Redis itself; anything larger is corruption.
    private const long MaxBulkLength = 512L * 1024 * 1024;
    private const long MaxArrayLength = int.MaxValue;

    private static readonly byte[] s_ok = "OK"u8.ToArray();

    /// <summary>
    /// Reads one complete reply. Returns false, leaving <paramref name="reader"/> in an unspecified position,
    /// when the buffer ends before the reply does; the caller retries from the same start once more data arrived.
    /// </summary>
    /// <exception cref="InvalidDataException">The data is not valid RESP2.</exception>
    public static bool TryRead(ref SequenceReader<byte> reader, out RedisResult result)
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

        if (length is < 0 or > MaxBulkLength)
        {
            throw new InvalidDataException($"Invalid bulk string length {length}.");
        }

        if (reader.Remaining < length + 2)
        {
            return false;
        }

        var value = GC.AllocateUninitializedArray<byte>((int)length);
        reader.TryCopyTo(value);
        reader.Advance(length);
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw new InvalidDataException("Bulk string is not terminated by CRLF.");
        }

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

        if (count is < 0 or > MaxArrayLength)
        {
            throw new InvalidDataException($"Invalid array length {count}.");
        }

        // Every element takes at least 3 bytes, so a count the buffer cannot hold yet means "incomplete" without
        // allocating a huge array for it.
        if (reader.Remaining < count * 3)
        {
            return false;
        }

        var items = count == 0 ? [] : new RedisResult[count];
        for (var i = 0; i < items.Length; i++)
        {
            if (!TryRead(ref reader, out items[i]))
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
        if (!TryReadLine(ref reader, out var line))
        {
            return false;
        }

        if (!Utf8Parser.TryParse(line, out value, out var consumed) || consumed != line.Length)
        {
            throw new InvalidDataException("Invalid integer in RESP data.");
        }

        return true;
    }
}
