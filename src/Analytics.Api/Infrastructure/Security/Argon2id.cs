using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Analytics.Api.Infrastructure.Security;

/// <summary>
/// Argon2id, version 0x13 (RFC 9106), computed in memory the caller owns and reuses. libsodium computes the same
/// function but maps, populates and unmaps its whole memory cost for every hash (about a quarter of a hash's time at
/// m=19 MiB went to the kernel, bench/RESULTS.md and ADR 17); the password hasher keeps one block area per hashing
/// slot instead. The fill follows the reference implementation's <c>fill_segment</c>; its block function
/// (<c>fill_block</c>) runs on AVX-512 vectors where the CPU has them (eight 64-bit words, two groups side by side)
/// and on AVX2 ones (four words) elsewhere; every output is checked against libsodium and RFC 9106's test vector in
/// the tests.
/// </summary>
internal static unsafe class Argon2id
{
    public const int BlockBytes = 1024;
    private const int Words = BlockBytes / sizeof(ulong);
    private const int SyncPoints = 4;
    private const int AddressesInBlock = Words;
    private const uint Version = 0x13;
    private const uint TypeId = 2;

    /// <summary>The vector block function needs AVX2; elsewhere the hasher uses libsodium.</summary>
    public static bool IsSupported => Avx2.IsSupported && BitConverter.IsLittleEndian;

    /// <summary>Blocks of <see cref="BlockBytes"/> that a hash with these parameters fills (RFC 9106, 3.2 step 1).</summary>
    public static long Blocks(uint memoryKib, uint lanes)
    {
        var blocks = Math.Max(memoryKib, 2 * SyncPoints * lanes);
        return blocks / (SyncPoints * lanes) * (SyncPoints * lanes);
    }

    /// <inheritdoc cref="Hash(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte}, uint, uint, uint, Span{byte}, ulong*, bool)"/>
    public static void Hash(
        ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> associatedData,
        uint iterations, uint memoryKib, uint lanes, Span<byte> tag, HashMemory.Area memory, bool? wide = null)
    {
        if (lanes is >= 1 and <= 0xFFFFFF && Blocks(memoryKib, lanes) > memory.Length)
        {
            throw new ArgumentException("The area is smaller than the memory cost.", nameof(memory));
        }

        Hash(password, salt, secret, associatedData, iterations, memoryKib, lanes, tag, memory.Blocks, wide ?? Avx512F.IsSupported);
    }

    /// <summary>
    /// Computes the tag into <paramref name="tag"/> (its length is the tag length). <paramref name="memory"/> holds at
    /// least <see cref="Blocks"/> blocks, 32-byte aligned; its earlier contents do not matter (every block is written
    /// before it is read). <paramref name="wide"/> runs the block function on AVX-512 vectors (two groups of words at
    /// once) instead of AVX2 ones; both give the same blocks.
    /// </summary>
    public static void Hash(
        ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> associatedData,
        uint iterations, uint memoryKib, uint lanes, Span<byte> tag, ulong* memory, bool wide)
    {
        if (!IsSupported || (wide && !Avx512F.IsSupported))
        {
            throw new PlatformNotSupportedException(wide ? "The wide block function needs AVX-512." : "The Argon2id block function needs AVX2.");
        }

        // The reference implementation's limits (argon2.h): outside them its outputs are not Argon2's.
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1u);
        ArgumentOutOfRangeException.ThrowIfLessThan(lanes, 1u);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(lanes, 0xFFFFFFu);
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryKib, 8 * lanes);
        ArgumentOutOfRangeException.ThrowIfLessThan(salt.Length, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(tag.Length, 4);

        var blocks = Blocks(memoryKib, lanes);
        var laneLength = (uint)(blocks / lanes);
        var segmentLength = laneLength / SyncPoints;

        // H0 (RFC 9106, 3.2 step 1), followed by room for the two little-endian words of step 2.
        Span<byte> seed = stackalloc byte[Blake2b.MaxBytes + 8];
        var h0 = new Blake2b(Blake2b.MaxBytes);
        h0.UpdateLittleEndian(lanes);
        h0.UpdateLittleEndian((uint)tag.Length);
        h0.UpdateLittleEndian(memoryKib);
        h0.UpdateLittleEndian(iterations);
        h0.UpdateLittleEndian(Version);
        h0.UpdateLittleEndian(TypeId);
        Absorb(h0, password);
        Absorb(h0, salt);
        Absorb(h0, secret);
        Absorb(h0, associatedData);
        h0.Final(seed[..Blake2b.MaxBytes]);

        // The first two blocks of every lane (steps 2 and 3).
        for (uint lane = 0; lane < lanes; lane++)
        {
            for (uint i = 0; i < 2; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(seed[Blake2b.MaxBytes..], i);
                BinaryPrimitives.WriteUInt32LittleEndian(seed[(Blake2b.MaxBytes + 4)..], lane);
                Long(seed, new Span<byte>(Block(memory, ((ulong)lane * laneLength) + i), BlockBytes));
            }
        }

        var scratch = stackalloc ulong[Words * 4];
        var instance = new Instance(memory, laneLength, segmentLength, lanes, (ulong)blocks, iterations, scratch, wide);
        for (uint pass = 0; pass < iterations; pass++)
        {
            for (uint slice = 0; slice < SyncPoints; slice++)
            {
                for (uint lane = 0; lane < lanes; lane++)
                {
                    FillSegment(instance, pass, lane, slice);
                }
            }
        }

        // The tag (steps 7 and 8): H' over the XOR of every lane's last block.
        var final = scratch;
        new ReadOnlySpan<ulong>(Block(memory, laneLength - 1), Words).CopyTo(new Span<ulong>(final, Words));
        for (uint lane = 1; lane < lanes; lane++)
        {
            var last = Block(memory, ((ulong)lane * laneLength) + laneLength - 1);
            for (var w = 0; w < Words; w++)
            {
                final[w] ^= last[w];
            }
        }

        Long(new ReadOnlySpan<byte>(final, BlockBytes), tag);
        new Span<ulong>(scratch, Words * 4).Clear();
        seed.Clear();
    }

    /// <summary>The block at <paramref name="index"/> (offsets in 64 bits: m can exceed 2^25 blocks).</summary>
    private static ulong* Block(ulong* memory, ulong index) => memory + (index * Words);

    private static void Absorb(Blake2b hash, ReadOnlySpan<byte> part)
    {
        hash.UpdateLittleEndian((uint)part.Length);
        hash.Update(part);
    }

    /// <summary>H', the variable-length hash (RFC 9106, 3.3).</summary>
    internal static void Long(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var first = new Blake2b(Math.Min(output.Length, Blake2b.MaxBytes));
        first.UpdateLittleEndian((uint)output.Length);
        first.Update(input);
        if (output.Length <= Blake2b.MaxBytes)
        {
            first.Final(output);
            return;
        }

        Span<byte> v = stackalloc byte[Blake2b.MaxBytes];
        Span<byte> next = stackalloc byte[Blake2b.MaxBytes];
        first.Final(v);
        v[..32].CopyTo(output);
        var written = 32;
        while (output.Length - written > Blake2b.MaxBytes)
        {
            Blake2b.Hash(v, next);
            next.CopyTo(v);
            v[..32].CopyTo(output[written..]);
            written += 32;
        }

        Blake2b.Hash(v, output[written..]);
        v.Clear();
        next.Clear();
    }

    private readonly struct Instance(ulong* memory, uint laneLength, uint segmentLength, uint lanes, ulong blocks, uint passes, ulong* scratch, bool wide)
    {
        public readonly bool Wide = wide;
        public readonly ulong* Memory = memory;
        public readonly uint LaneLength = laneLength;
        public readonly uint SegmentLength = segmentLength;
        public readonly uint Lanes = lanes;
        public readonly ulong Blocks = blocks;
        public readonly uint Passes = passes;

        /// <summary>Four blocks of working space: the block function's two, the address block and its input.</summary>
        public readonly ulong* Scratch = scratch;
    }

    /// <summary>The reference implementation's <c>fill_segment</c> for Argon2id.</summary>
    private static void FillSegment(in Instance instance, uint pass, uint lane, uint slice)
    {
        var work = instance.Scratch;
        var addresses = instance.Scratch + (2 * Words);
        var input = instance.Scratch + (3 * Words);
        var dataIndependent = pass == 0 && slice < SyncPoints / 2;
        if (dataIndependent)
        {
            new Span<ulong>(input, Words).Clear();
            input[0] = pass;
            input[1] = lane;
            input[2] = slice;
            input[3] = instance.Blocks;
            input[4] = instance.Passes;
            input[5] = TypeId;
        }

        uint start = 0;
        if (pass == 0 && slice == 0)
        {
            start = 2;
            if (dataIndependent)
            {
                NextAddresses(addresses, input, work, instance.Wide);
            }
        }

        var current = (lane * instance.LaneLength) + (slice * instance.SegmentLength) + start;
        var previous = current % instance.LaneLength == 0 ? current + instance.LaneLength - 1 : current - 1;
        for (var i = start; i < instance.SegmentLength; i++, current++, previous++)
        {
            if (current % instance.LaneLength == 1)
            {
                previous = current - 1;
            }

            ulong pseudoRandom;
            if (dataIndependent)
            {
                if (i % AddressesInBlock == 0)
                {
                    NextAddresses(addresses, input, work, instance.Wide);
                }

                pseudoRandom = addresses[i % AddressesInBlock];
            }
            else
            {
                pseudoRandom = *Block(instance.Memory, previous);
            }

            var referenceLane = pass == 0 && slice == 0 ? lane : (uint)((pseudoRandom >> 32) % instance.Lanes);
            var referenceIndex = IndexAlpha(instance, pass, slice, i, (uint)pseudoRandom, referenceLane == lane);
            var reference = Block(instance.Memory, ((ulong)instance.LaneLength * referenceLane) + referenceIndex);
            FillBlock(Block(instance.Memory, previous), reference, Block(instance.Memory, current), xor: pass != 0, work, instance.Wide);
        }
    }

    private static void NextAddresses(ulong* addresses, ulong* input, ulong* work, bool wide)
    {
        input[6]++;
        var zero = stackalloc ulong[Words];
        new Span<ulong>(zero, Words).Clear();
        FillBlock(zero, input, addresses, xor: false, work, wide);
        FillBlock(zero, addresses, addresses, xor: false, work, wide);
    }

    private static uint IndexAlpha(in Instance instance, uint pass, uint slice, uint index, uint pseudoRandom, bool sameLane)
    {
        uint area;
        if (pass == 0)
        {
            area = slice == 0
                ? index - 1
                : sameLane
                    ? (slice * instance.SegmentLength) + index - 1
                    : (slice * instance.SegmentLength) - (index == 0 ? 1u : 0u);
        }
        else
        {
            area = sameLane
                ? instance.LaneLength - instance.SegmentLength + index - 1
                : instance.LaneLength - instance.SegmentLength - (index == 0 ? 1u : 0u);
        }

        ulong relative = pseudoRandom;
        relative = (relative * relative) >> 32;
        relative = area - 1 - ((area * relative) >> 32);
        var startPosition = pass == 0 || slice == SyncPoints - 1 ? 0 : (slice + 1) * instance.SegmentLength;
        return (uint)((startPosition + relative) % instance.LaneLength);
    }

    /// <summary>
    /// next = G(previous XOR reference), XORed over next's old contents from the second pass on. The compression
    /// applies BLAKE2b's round (with BlaMka's multiplications) to the 8x8 matrix of 16-byte registers, by rows then
    /// by columns; <paramref name="work"/> is two blocks of scratch. <paramref name="next"/> may be
    /// <paramref name="reference"/>.
    /// </summary>
    private static void FillBlock(ulong* previous, ulong* reference, ulong* next, bool xor, ulong* work, bool wide)
    {
        if (wide)
        {
            FillBlockWide(previous, reference, next, xor, work);
            return;
        }

        var r = work;
        var keep = work + Words;
        for (var k = 0; k < Words; k += 4)
        {
            var value = Avx.LoadVector256(reference + k) ^ Avx.LoadVector256(previous + k);
            Avx.Store(r + k, value);
            Avx.Store(keep + k, xor ? value ^ Avx.LoadVector256(next + k) : value);
        }

        for (var i = 0; i < 8; i++)
        {
            var row = r + (16 * i);
            var a = Avx.LoadVector256(row);
            var b = Avx.LoadVector256(row + 4);
            var c = Avx.LoadVector256(row + 8);
            var d = Avx.LoadVector256(row + 12);
            Round(ref a, ref b, ref c, ref d);
            Avx.Store(row, a);
            Avx.Store(row + 4, b);
            Avx.Store(row + 8, c);
            Avx.Store(row + 12, d);
        }

        for (var i = 0; i < 8; i++)
        {
            var column = r + (2 * i);
            var a = Vector256.Create(Sse2.LoadVector128(column), Sse2.LoadVector128(column + 16));
            var b = Vector256.Create(Sse2.LoadVector128(column + 32), Sse2.LoadVector128(column + 48));
            var c = Vector256.Create(Sse2.LoadVector128(column + 64), Sse2.LoadVector128(column + 80));
            var d = Vector256.Create(Sse2.LoadVector128(column + 96), Sse2.LoadVector128(column + 112));
            Round(ref a, ref b, ref c, ref d);
            Sse2.Store(column, a.GetLower());
            Sse2.Store(column + 16, a.GetUpper());
            Sse2.Store(column + 32, b.GetLower());
            Sse2.Store(column + 48, b.GetUpper());
            Sse2.Store(column + 64, c.GetLower());
            Sse2.Store(column + 80, c.GetUpper());
            Sse2.Store(column + 96, d.GetLower());
            Sse2.Store(column + 112, d.GetUpper());
        }

        for (var k = 0; k < Words; k += 4)
        {
            Avx.Store(next + k, Avx.LoadVector256(keep + k) ^ Avx.LoadVector256(r + k));
        }
    }

    private static readonly Vector512<ulong> Interleave = Vector512.Create(0UL, 1, 8, 9, 2, 3, 10, 11);
    private static readonly Vector512<ulong> Deinterleave = Vector512.Create(0UL, 1, 4, 5, 2, 3, 6, 7);

    /// <summary><see cref="FillBlock"/> with AVX-512: two groups of sixteen words side by side in each vector.</summary>
    private static void FillBlockWide(ulong* previous, ulong* reference, ulong* next, bool xor, ulong* work)
    {
        var r = work;
        var keep = work + Words;
        for (var k = 0; k < Words; k += 8)
        {
            var value = Avx512F.LoadVector512(reference + k) ^ Avx512F.LoadVector512(previous + k);
            Avx512F.Store(r + k, value);
            Avx512F.Store(keep + k, xor ? value ^ Avx512F.LoadVector512(next + k) : value);
        }

        for (var i = 0; i < 8; i += 2)
        {
            var row = r + (16 * i);
            var a = Vector512.Create(Avx.LoadVector256(row), Avx.LoadVector256(row + 16));
            var b = Vector512.Create(Avx.LoadVector256(row + 4), Avx.LoadVector256(row + 20));
            var c = Vector512.Create(Avx.LoadVector256(row + 8), Avx.LoadVector256(row + 24));
            var d = Vector512.Create(Avx.LoadVector256(row + 12), Avx.LoadVector256(row + 28));
            Round(ref a, ref b, ref c, ref d);
            Avx.Store(row, a.GetLower());
            Avx.Store(row + 16, a.GetUpper());
            Avx.Store(row + 4, b.GetLower());
            Avx.Store(row + 20, b.GetUpper());
            Avx.Store(row + 8, c.GetLower());
            Avx.Store(row + 24, c.GetUpper());
            Avx.Store(row + 12, d.GetLower());
            Avx.Store(row + 28, d.GetUpper());
        }

        for (var i = 0; i < 8; i += 2)
        {
            var column = r + (2 * i);
            var a = Gather(column);
            var b = Gather(column + 32);
            var c = Gather(column + 64);
            var d = Gather(column + 96);
            Round(ref a, ref b, ref c, ref d);
            Scatter(column, a);
            Scatter(column + 32, b);
            Scatter(column + 64, c);
            Scatter(column + 96, d);
        }

        for (var k = 0; k < Words; k += 8)
        {
            Avx512F.Store(next + k, Avx512F.LoadVector512(keep + k) ^ Avx512F.LoadVector512(r + k));
        }
    }

    /// <summary>Words 0, 1, 16, 17 and 2, 3, 18, 19 from <paramref name="at"/>: two column groups' first registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Gather(ulong* at) =>
        Avx512F.PermuteVar8x64x2(Vector512.Create(Avx.LoadVector256(at), Vector256<ulong>.Zero), Interleave, Vector512.Create(Avx.LoadVector256(at + 16), Vector256<ulong>.Zero));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scatter(ulong* at, Vector512<ulong> value)
    {
        var ordered = Avx512F.PermuteVar8x64(value, Deinterleave);
        Avx.Store(at, ordered.GetLower());
        Avx.Store(at + 16, ordered.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref Vector512<ulong> a, ref Vector512<ulong> b, ref Vector512<ulong> c, ref Vector512<ulong> d)
    {
        G(ref a, ref b, ref c, ref d);
        b = Avx512F.Permute4x64(b, 0b00_11_10_01);
        c = Avx512F.Permute4x64(c, 0b01_00_11_10);
        d = Avx512F.Permute4x64(d, 0b10_01_00_11);
        G(ref a, ref b, ref c, ref d);
        b = Avx512F.Permute4x64(b, 0b10_01_00_11);
        c = Avx512F.Permute4x64(c, 0b01_00_11_10);
        d = Avx512F.Permute4x64(d, 0b00_11_10_01);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref Vector512<ulong> a, ref Vector512<ulong> b, ref Vector512<ulong> c, ref Vector512<ulong> d)
    {
        a = BlaMka(a, b);
        d = Avx512F.RotateRight(d ^ a, 32);
        c = BlaMka(c, d);
        b = Avx512F.RotateRight(b ^ c, 24);
        a = BlaMka(a, b);
        d = Avx512F.RotateRight(d ^ a, 16);
        c = BlaMka(c, d);
        b = Avx512F.RotateRight(b ^ c, 63);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> BlaMka(Vector512<ulong> x, Vector512<ulong> y)
    {
        var product = Avx512F.Multiply(x.AsUInt32(), y.AsUInt32());
        return x + y + product + product;
    }

    /// <summary>One BLAKE2b round over sixteen words held as four vectors: four G on the columns, four on the diagonals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref Vector256<ulong> a, ref Vector256<ulong> b, ref Vector256<ulong> c, ref Vector256<ulong> d)
    {
        G(ref a, ref b, ref c, ref d);
        b = Avx2.Permute4x64(b, 0b00_11_10_01);
        c = Avx2.Permute4x64(c, 0b01_00_11_10);
        d = Avx2.Permute4x64(d, 0b10_01_00_11);
        G(ref a, ref b, ref c, ref d);
        b = Avx2.Permute4x64(b, 0b10_01_00_11);
        c = Avx2.Permute4x64(c, 0b01_00_11_10);
        d = Avx2.Permute4x64(d, 0b00_11_10_01);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref Vector256<ulong> a, ref Vector256<ulong> b, ref Vector256<ulong> c, ref Vector256<ulong> d)
    {
        a = BlaMka(a, b);
        d = RotateRight(d ^ a, 32);
        c = BlaMka(c, d);
        b = RotateRight(b ^ c, 24);
        a = BlaMka(a, b);
        d = RotateRight(d ^ a, 16);
        c = BlaMka(c, d);
        b = RotateRight(b ^ c, 63);
    }

    /// <summary>x + y + 2 * lo32(x) * lo32(y), per 64-bit word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> BlaMka(Vector256<ulong> x, Vector256<ulong> y)
    {
        var product = Avx2.Multiply(x.AsUInt32(), y.AsUInt32());
        return x + y + product + product;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> RotateRight(Vector256<ulong> value, [ConstantExpected] byte count) =>
        Vector256.ShiftRightLogical(value, count) | Vector256.ShiftLeft(value, 64 - count);
}
