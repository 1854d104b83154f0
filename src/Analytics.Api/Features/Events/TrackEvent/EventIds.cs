using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Analytics.Api.Features.Events.TrackEvent;

/// <summary>
/// Version 7 UUIDs (RFC 9562: 48 bits of Unix milliseconds, then 74 random bits) for events sent without an id.
/// <see cref="Guid.CreateVersion7(DateTimeOffset)"/> makes the same ids but reads its random bits from
/// <c>/dev/urandom</c> with a system call per id: one per event, 3-4 % of a 500-event batch's API time (perf,
/// bench/RESULTS.md). These come from the same generator, <see cref="RandomNumberGenerator"/>, 4 KiB at a time per
/// thread.
/// </summary>
public static class EventIds
{
    private const int RandomBytes = 10;
    private const int BufferBytes = 4096;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_used;

    public static Guid NewVersion7(DateTimeOffset at)
    {
        var milliseconds = at.ToUnixTimeMilliseconds();
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds, nameof(at));
        if (t_random is null || t_used + RandomBytes > BufferBytes)
        {
            t_random ??= new byte[BufferBytes];
            RandomNumberGenerator.Fill(t_random);
            t_used = 0;
        }

        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, milliseconds << 16);
        t_random.AsSpan(t_used, RandomBytes).CopyTo(bytes[6..]);
        t_used += RandomBytes;
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }
}
