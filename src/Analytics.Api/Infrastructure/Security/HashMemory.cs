using System.Runtime.InteropServices;

namespace Analytics.Api.Infrastructure.Security;

/// <summary>
/// Block areas for <see cref="Argon2id"/>, one per hash in progress (the hasher's slots bound how many), kept between
/// hashes so that a hash does not map, fault in and unmap its whole memory cost as libsodium does each time. Areas
/// left unused for <see cref="IdleAfter"/> are wiped and freed at the next check (every <see cref="TrimEvery"/>), so
/// a node that stops signing people in gives the memory back.
/// </summary>
internal sealed unsafe class HashMemory : IDisposable
{
    private static readonly TimeSpan IdleAfter = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan TrimEvery = TimeSpan.FromSeconds(10);

    /// <summary>Huge-page sized alignment: Linux backs an advised area with 2 MiB pages (fewer TLB misses).</summary>
    private const nuint Alignment = 2 * 1024 * 1024;

    private readonly long _blocks;
    private readonly nuint _bytes;
    // Most recently returned last: Rent takes the warmest area, Trim the ones left longest.
    private readonly List<Area> _idle = [];
    private readonly Lock _gate = new();
    private readonly Timer _trim;
    private bool _disposed;

    public HashMemory(long blocks)
    {
        _blocks = blocks;
        _bytes = (nuint)blocks * Argon2id.BlockBytes;
        _trim = new Timer(_ => Trim(IdleAfter), null, TrimEvery, TrimEvery);
    }

    /// <summary>Areas allocated and not freed (tests).</summary>
    public int Allocated { get; private set; }

    public Area Rent()
    {
        lock (_gate)
        {
            if (_idle.Count > 0)
            {
                var area = _idle[^1];
                _idle.RemoveAt(_idle.Count - 1);
                return area;
            }

            Allocated++;
        }

        ulong* blocks;
        try
        {
            blocks = (ulong*)NativeMemory.AlignedAlloc(_bytes, Alignment);
        }
        catch (OutOfMemoryException ex)
        {
            lock (_gate)
            {
                Allocated--;
            }

            throw new InvalidOperationException("Argon2id hashing failed: out of memory for its blocks.", ex);
        }

        if (OperatingSystem.IsLinux())
        {
            _ = madvise(blocks, _bytes, MadviseHugePage);
        }

        return new Area(blocks, _blocks);
    }

    public void Return(Area area)
    {
        area.ReturnedAt = Environment.TickCount64;
        lock (_gate)
        {
            if (!_disposed)
            {
                _idle.Add(area);
                return;
            }

            Allocated--;
        }

        Free(area);
    }

    /// <summary>Frees the areas that have not been used for <paramref name="idle"/>.</summary>
    public void Trim(TimeSpan idle)
    {
        List<Area> stale;
        lock (_gate)
        {
            var cutoff = Environment.TickCount64 - (long)idle.TotalMilliseconds;
            stale = _idle.FindAll(a => a.ReturnedAt <= cutoff);
            _idle.RemoveAll(a => a.ReturnedAt <= cutoff);
            Allocated -= stale.Count;
        }

        stale.ForEach(Free);
    }

    public void Dispose()
    {
        _trim.Dispose();
        lock (_gate)
        {
            _disposed = true;
        }

        Trim(TimeSpan.Zero);
    }

    /// <summary>The blocks hold values derived from a password: wiped before they go back to the allocator.</summary>
    private void Free(Area area)
    {
        NativeMemory.Clear(area.Blocks, _bytes);
        NativeMemory.AlignedFree(area.Blocks);
    }

    internal sealed class Area(ulong* blocks, long length)
    {
        public ulong* Blocks { get; } = blocks;

        /// <summary>Blocks of <see cref="Argon2id.BlockBytes"/>.</summary>
        public long Length { get; } = length;

        public long ReturnedAt { get; set; }
    }

    private const int MadviseHugePage = 14;

    [DllImport("libc")]
    private static extern int madvise(void* address, nuint length, int advice);
}
