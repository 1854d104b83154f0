using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Caching.Memory;

namespace Analytics.Api.Infrastructure.Caching;

/// <summary>
/// Short-lived copies, on this node, of values that <see cref="ICache"/> holds for every node (an L1 in front of
/// Redis). Only for values that never change under their key, such as answers whose key embeds a generation: a
/// copy then costs nothing in freshness beyond what the caller's key already allows.
/// </summary>
public sealed class LocalCopies(TimeProvider clock) : IDisposable
{
    private readonly MemoryCache _memory = new(new MemoryCacheOptions { SizeLimit = 32 * 1024 * 1024 });

    public bool TryGet(string key, [NotNullWhen(true)] out byte[]? value)
    {
        if (_memory.TryGetValue(key, out Copy? copy) && copy is not null && clock.GetUtcNow() < copy.Until)
        {
            value = copy.Value;
            return true;
        }

        value = null;
        return false;
    }

    public void Set(string key, byte[] value, TimeSpan keepFor)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (keepFor > TimeSpan.Zero)
        {
            _memory.Set(key, new Copy(value, clock.GetUtcNow() + keepFor), new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = keepFor, Size = value.Length + key.Length });
        }
    }

    public void Dispose() => _memory.Dispose();

    private sealed record Copy(byte[] Value, DateTimeOffset Until);
}
